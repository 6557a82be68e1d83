"""``python -m ytsentiment.deploy <command>``: the same entry point as ``ytsentiment deploy``."""

from ytsentiment.deploy.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
