"""Runs INSIDE the student's kernel, installed by the grader before any student code.

Not imported by the grader: :mod:`autograder.guard` sends this file's text to the kernel
(silently, without history) and calls :func:`install`. It gives the grader two functions,
bound in the kernel under random names:

``snap(names)``   after each instructor (locked) code cell: remember what those names are bound
                  to, and snapshot the modules and classes they come from.
``run(grade_id, source, required)``   runs one test cell: first undo what student code may have
                  changed (builtins, the test helpers and other instructor bindings, their modules'
                  attributes, sys.stdout/stderr, IPython's input/AST transformers, event hooks and
                  patched shell methods, the SIGINT handler, warning filters); then refuse the
                  course's reference implementation as an answer; then execute the test in a copy
                  of the user namespace where names that shadow builtins are removed and the
                  instructor bindings are restored; finally print a completion marker, an HMAC of
                  the test's id under a per-run secret (in the grader's format ``marker_format``:
                  :data:`autograder.guard.MARKER_FORMAT`). The grader counts a test as passed only if
                  the marker is there and no error was raised. The test helpers' function objects
                  themselves (code, defaults, keyword defaults, attributes, closure cells) are
                  restored too, and each change is reported on a line in ``restored_format``.
"""


def install(secret, run_name, snap_name, reference_modules, marker_format, restored_format):  # pragma: no cover
    import ast
    import builtins
    import hashlib
    import hmac
    import signal
    import sys
    import types
    import warnings

    from IPython import get_ipython

    ip = get_ipython()
    missing = object()
    key = bytes.fromhex(secret)
    out = sys.stdout
    saved_sys = {name: getattr(sys, name) for name in ("stdout", "stderr", "displayhook", "excepthook")}
    saved_builtins = dict(vars(builtins))
    saved_showwarning = warnings.showwarning
    saved_filters = list(warnings.filters)
    saved_lists = {
        name: list(getattr(ip, name))
        for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
    }
    manager = ip.input_transformer_manager
    saved_manager = {
        name: list(getattr(manager, name)) for name in ("cleanup_transforms", "line_transforms", "token_transformers")
    }
    saved_events = {name: list(callbacks) for name, callbacks in ip.events.callbacks.items()}
    saved_instance = set(vars(ip))
    saved_classes = [
        (cls, dict(vars(cls))) for cls in type(ip).__mro__ if cls.__module__.split(".")[0] in ("IPython", "ipykernel")
    ]
    instructor = {}
    modules = {}
    classes = {}
    functions = {}  # id -> (function, its state when the instructor's cell had run)
    empty_cell = object()

    def _state(f):
        cells = []
        for cell in f.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                cells.append(empty_cell)
        names = (f.__name__, f.__qualname__, f.__module__, f.__doc__)
        return f.__code__, f.__defaults__, f.__kwdefaults__, dict(f.__dict__), tuple(cells), names

    def _track(obj):
        for f in (obj, getattr(obj, "__func__", None), getattr(obj, "fget", None), getattr(obj, "fset", None)):
            if isinstance(f, types.FunctionType) and id(f) not in functions:
                functions[id(f)] = (f, _state(f))

    class ReferenceImplementationUsed(Exception):
        """An answer is the course package's reference implementation, not the student's code."""

    def _module(module):
        if module.__name__ not in modules and module.__name__ != "__main__":
            modules[module.__name__] = (module, dict(vars(module)))
            if module.__name__.split(".")[0] != "gptcourse":
                return  # the course's helper modules: their every function; others: only what the cells bind
            for value in vars(module).values():
                if getattr(value, "__module__", None) == module.__name__:
                    _track(value)
                    if isinstance(value, type):
                        for member in vars(value).values():
                            _track(member)

    def snap(names):
        user_ns = ip.user_ns
        for name in names:
            if name not in user_ns:
                continue
            obj = user_ns[name]
            instructor[name] = obj
            _track(obj)
            if isinstance(obj, types.ModuleType):
                _module(obj)
                continue
            module = sys.modules.get(getattr(obj, "__module__", None) or "")
            if module is not None:
                _module(module)
            if isinstance(obj, type) and obj.__module__ != "__main__":
                classes[obj] = dict(vars(obj))
            if isinstance(obj, type):
                for member in vars(obj).values():
                    _track(member)

    def _restore_dict(target, saved, setter):
        for name, value in saved.items():
            if target.get(name, missing) is not value:
                try:
                    setter(name, value)
                except (AttributeError, TypeError):
                    pass

    def _restore_function(f, saved):
        """Put back a helper's code, defaults, attributes and closure; say what had changed."""
        code, defaults, kwdefaults, attributes, cells, names = saved
        changed = [
            part
            for part, now, then in (
                ("__code__", f.__code__, code),
                ("__defaults__", f.__defaults__, defaults),
                ("__kwdefaults__", f.__kwdefaults__, kwdefaults),
                ("__name__", (f.__name__, f.__qualname__, f.__module__, f.__doc__), names),
            )
            if now is not then and now != then
        ]
        f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
        f.__name__, f.__qualname__, f.__module__, f.__doc__ = names
        if f.__dict__ != attributes or any(f.__dict__.get(k, missing) is not v for k, v in attributes.items()):
            changed.append("__dict__")
            f.__dict__.clear()
            f.__dict__.update(attributes)
        for cell, value in zip(f.__closure__ or (), cells, strict=True):  # a closure never changes length
            try:
                same = cell.cell_contents is value
            except ValueError:
                same = value is empty_cell
            if not same:
                changed.append("__closure__")
                if value is empty_cell:
                    del cell.cell_contents
                else:
                    cell.cell_contents = value
        return [f"{f.__qualname__}.{part}" for part in dict.fromkeys(changed)]

    def restore():
        changed = []
        for f, saved in list(functions.values()):
            changed += _restore_function(f, saved)
        _restore_dict(vars(builtins), saved_builtins, lambda n, v: setattr(builtins, n, v))
        for name, value in saved_sys.items():
            setattr(sys, name, value)
        sys.settrace(None)
        sys.setprofile(None)
        warnings.showwarning = saved_showwarning
        warnings.filters[:] = saved_filters
        getattr(warnings, "_filters_mutated", lambda: None)()
        for name, (module, saved) in modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
            _restore_dict(vars(module), saved, lambda n, v, m=module: setattr(m, n, v))
        for cls, saved in classes.items():
            _restore_dict(dict(vars(cls)), saved, lambda n, v, c=cls: setattr(c, n, v))
        for name, saved in saved_lists.items():
            getattr(ip, name)[:] = saved
        for name, saved in saved_manager.items():
            getattr(manager, name)[:] = saved
        for name, saved in saved_events.items():
            ip.events.callbacks[name][:] = saved
        for name in list(vars(ip)):
            if name not in saved_instance and hasattr(type(ip), name):
                delattr(ip, name)  # an instance attribute shadowing a shell method
        for cls, saved in saved_classes:
            _restore_dict(dict(vars(cls)), saved, lambda n, v, c=cls: setattr(c, n, v))
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except (ValueError, OSError):
            pass
        return changed

    def marker(grade_id):
        digest = hmac.new(key, grade_id.encode(), hashlib.sha256).hexdigest()[:32]
        return marker_format.format(grade_id=grade_id, digest=digest)

    def run(grade_id, source, required):
        for what in restore():
            out.write(restored_format.format(what=what) + "\n")
        user_ns = ip.user_ns
        for name in required:
            module = getattr(user_ns.get(name), "__module__", None)
            if isinstance(module, str) and any(module == r or module.startswith(r + ".") for r in reference_modules):
                raise ReferenceImplementationUsed(
                    f"`{name}` is the course package's reference implementation ({module}.{name}), "
                    "not your own code; this exercise earns no points."
                )
        namespace = dict(user_ns)
        for name in list(namespace):
            if name in saved_builtins and not name.startswith("_") and name not in instructor:
                del namespace[name]  # a student's `def len(...)` must not change what the test sees
        namespace.update(instructor)
        namespace["__builtins__"] = builtins
        tree = ast.parse(ip.transform_cell(source))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        filename = f"<test {grade_id}>"
        exec(compile(tree, filename, "exec"), namespace)
        value = None
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
        for name, obj in namespace.items():
            if name.startswith("__") or name in instructor:
                continue
            if user_ns.get(name, missing) is not obj:
                user_ns[name] = obj  # later cells may use what a test cell defined
        out.write(marker(grade_id) + "\n")
        out.flush()
        return value

    ip.user_ns[run_name] = run
    ip.user_ns[snap_name] = snap
