"""Running a Python snippet: the interpreter command line and the small wrapper it executes.

The snippet runs as ``python3 -I -S -c WRAPPER SNIPPET_FILE ALLOWED RLIMITS [args...]`` inside
the same sandbox as any command. The wrapper applies the run's rlimits to itself (instead of a
``prlimit`` exec), reads the snippet from a read-only file, sets
``sys.argv = ["<snippet>", *args]`` and, when ``allowed_modules`` is given, installs an import
guard before executing it:

* ``builtins.__import__`` is wrapped: an import requested by code that is not a loaded module
  (the snippet itself, or code it built with ``exec``/``compile``) must name an allowed
  top-level module; imports performed inside allowed modules (their own dependencies) pass;
* a ``sys.meta_path`` finder applies the same rule to ``importlib`` style imports.

This is defence in depth only: Python cannot sandbox Python, and a determined snippet can
reach modules that are already loaded. The containment boundary is the sandbox itself.
"""

from __future__ import annotations

from sandbox.limits import Limits

# -I: isolated (no env vars, no user site, no cwd on sys.path); -S: no site module (faster start,
# no dist-packages); the wrapper restores exit()/quit().
PYTHON_FLAGS = ("-I", "-S")

WRAPPER = r"""
import builtins, sys
def _fd_main():
    path, allowed, limits = sys.argv[1], sys.argv[2], sys.argv[3]
    if limits:
        import resource
        for item in limits.split(","):
            res, soft, hard = (int(x) for x in item.split(":"))
            resource.setrlimit(res, (soft, hard))
    if not hasattr(builtins, "exit"):
        builtins.exit = builtins.quit = sys.exit
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    code = compile(source, "<snippet>", "exec")
    sys.argv = ["<snippet>", *sys.argv[4:]]
    if allowed != "*":
        _fd_guard(frozenset(filter(None, allowed.split(","))))
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None}
    del sys.modules["__main__"].__dict__["_fd_main"], sys.modules["__main__"].__dict__["_fd_guard"]
    exec(code, namespace)

def _fd_guard(allowed):
    original = builtins.__import__
    getframe = sys._getframe
    modules = sys.modules
    skip = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")

    def trusted(frame):
        if frame.f_code.co_filename in skip:
            return True
        name = frame.f_globals.get("__name__")
        if name in (None, "__main__", "builtins", "importlib"):
            return False
        module = modules.get(name)
        filename = frame.f_code.co_filename
        if module is None or getattr(module, "__dict__", None) is not frame.f_globals:
            return False
        if filename == "<frozen %s>" % name:
            return True
        return filename.startswith("/") and filename == getattr(module, "__file__", None)

    def check(name, frame):
        top = name.partition(".")[0]
        if top and top not in allowed and not trusted(frame):
            raise ImportError(f"import of {top!r} is not allowed in this snippet", name=top)

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            check(name, getframe(1))
        return original(name, globals, locals, fromlist, level)

    class Guard:
        @staticmethod
        def find_spec(name, path=None, target=None):
            frame = getframe(1)
            while frame is not None and (
                frame.f_code.co_filename in skip
                or frame.f_code is guarded_import.__code__
                or frame.f_globals.get("__name__") == "importlib"
            ):
                frame = frame.f_back
            if frame is not None:
                check(name, frame)
            return None

    sys.meta_path.insert(0, Guard)
    builtins.__import__ = guarded_import

_fd_main()
"""


def python_argv(
    python: str,
    snippet_path: str,
    allowed_modules: tuple[str, ...] | None,
    args: tuple[str, ...],
    limits: Limits | None,
) -> list[str]:
    """The interpreter command line for a snippet stored at ``snippet_path``.

    With ``limits`` the wrapper applies the rlimits itself before reading the snippet (saving
    the ``prlimit`` exec); the interpreter's own start-up is the only code that runs before.
    """
    allowed = "*" if allowed_modules is None else ",".join(allowed_modules)
    rlimits = "" if limits is None else limits.rlimit_spec()
    return [python, *PYTHON_FLAGS, "-c", WRAPPER, snippet_path, allowed, rlimits, *args]
