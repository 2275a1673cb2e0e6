import sys

from selectkit.cli import main

sys.exit(main())
