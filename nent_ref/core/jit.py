r"""Specialised Numba kernels without stale caches: one driver body, several compiled forms.

Two mechanisms, so that a loop over chunks of work is written once however many forms it runs in:

* :func:`specialise` compiles one Python function under given Numba options (``parallel=True`` or not)
  as a kernel with its **own cache entry**.  Numba keys a cached kernel by the function's module,
  qualified name and first line, then by the argument types, the target CPU and a hash of the
  bytecode; the compile options (``parallel``, ``fastmath``, ...) are *not* part of the key.  Jitting
  the same function twice with different options therefore makes the second form load the first
  one's machine code from the cache (a "parallel" kernel that runs serially, or the reverse), in the
  same process as soon as the first form was saved and in every later process.  :func:`specialise`
  jits a copy of the function whose qualified name carries a tag naming the options, so every form
  has its own index file, and refuses two different option sets under one tag.

* :func:`by_ndim` makes one name that compiled code can call for several shapes of an argument:
  ``mixture_core(..., param, ...)`` runs the isotropic, diagonal or full-covariance routine according
  to ``param.ndim``, chosen when the caller is compiled (no run-time branch, no reliance on branch
  pruning).  The choice is part of the caller's argument types, so each shape gets its own cache
  entry in the caller: there is nothing to go stale.

* :func:`call_void` and :func:`pointer`: a compiled routine made a C callback (``numba.cfunc``)
  that takes its arrays as addresses (``array.ctypes.data``, viewed again with ``numba.carray`` and
  :func:`pointer`) is called by compiled code through its address (``cfunc.address``, an integer
  argument).  The caller's compiled code does not contain the routine, so compiling the caller does not
  optimise the routine again (Numba re-optimises every routine it links into a caller, and a
  ``parallel=True`` caller twice), and one compiled caller serves every routine of that C signature.  An
  integer argument also keeps the call cheap: a dispatcher types a ``cfunc`` object argument in ~10 us.

``tests/test_jit.py`` checks the first two in one process (two specialisations of one body, with their thread
usage observed) and again in a fresh process that loads both from the cache.
"""
from __future__ import annotations

import types

import numba
from numba import types as nb_types
from numba.extending import intrinsic, overload

__all__ = ["specialise", "by_ndim", "pointer", "call_void"]

#: (module, qualified name, tag) -> the options compiled under that tag in this process
_TAGS: dict = {}


def specialise(py_func, tag: str, **options):
    """Numba-compile ``py_func`` under ``options`` with a cache entry of its own.

    Parameters
    ----------
    py_func : function
        A plain module-level Python function (not a dispatcher).
    tag : str
        Names the specialisation (e.g. ``"serial"``, ``"parallel"``); it becomes part of the cached
        kernel's qualified name, ``<qualname>__<tag>``, so every tag has its own cache file.
    **options
        Numba ``njit`` options; ``cache=True`` is implied.

    Returns
    -------
    numba dispatcher

    Raises
    ------
    TypeError
        ``py_func`` is not a Python function (e.g. already a dispatcher).
    ValueError
        ``tag`` is not an identifier, or it was used before for the same function with other options
        (two forms under one cache entry is exactly the stale cache this prevents).
    """
    if not isinstance(py_func, types.FunctionType):
        raise TypeError(f"py_func must be a plain Python function, got {type(py_func).__name__}")
    if not (isinstance(tag, str) and tag.isidentifier()):
        raise ValueError(f"tag must be an identifier such as 'serial' or 'parallel', got {tag!r}")
    options = dict(options)
    options.setdefault("cache", True)
    key = (py_func.__module__, py_func.__qualname__, tag)
    seen = _TAGS.setdefault(key, options)
    if seen != options:
        raise ValueError(f"tag {tag!r} of {py_func.__qualname__} was already compiled with options {seen}; "
                         f"got {options}: give each set of options its own tag")
    clone = types.FunctionType(py_func.__code__, py_func.__globals__, f"{py_func.__name__}__{tag}",
                               py_func.__defaults__, py_func.__closure__)
    clone.__qualname__ = f"{py_func.__qualname__}__{tag}"
    clone.__module__ = py_func.__module__
    clone.__doc__ = py_func.__doc__
    clone.__kwdefaults__ = py_func.__kwdefaults__
    return numba.njit(**options)(clone)


def by_ndim(name: str, position: int, table: dict):
    """A function callable from compiled code that runs ``table[args[position].ndim](*args)``.

    Parameters
    ----------
    name : str
        The name of the returned function (for messages).
    position : int
        Which argument's array dimension selects the routine.
    table : dict
        ``{ndim: numba dispatcher}``; every routine takes the same arguments.

    Returns
    -------
    function
        Usable inside ``@numba.njit`` code only; called from Python it raises ``TypeError``.
    """
    if not table or not all(isinstance(k, int) for k in table):
        raise ValueError("table must map array dimensions (int) to compiled routines")

    def stub(*args):
        raise TypeError(f"{name} is for compiled code; call the public kernel instead")

    stub.__name__ = stub.__qualname__ = name

    @overload(stub)
    def _choose(*args):
        ndim = getattr(args[position], "ndim", None)
        routine = table.get(ndim)
        if routine is None:
            return None                      # Numba reports a typing error naming the argument types

        def run(*args):  # pragma: no cover - compiled
            return routine(*args)
        return run

    return stub


@intrinsic
def pointer(typingctx, address, dtype):
    """``dtype*`` at an integer ``address`` (compiled code only), for ``numba.carray(pointer(a, np.float64),
    shape)``; ``dtype`` a numeric type (``np.float64``, ``np.int64``, ``np.uint64``, ...).

    The caller vouches that ``address`` is the start of a live, C-contiguous buffer of that dtype and shape
    (``a.ctypes.data`` of an array ``a`` that outlives the view); nothing is checked.
    """
    if not isinstance(address, nb_types.Integer) or not isinstance(dtype, nb_types.NumberClass):
        return None
    ptr = nb_types.CPointer(dtype.instance_type)
    sig = ptr(address, dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr))
    return sig, codegen


@intrinsic
def call_void(typingctx, address, *args):
    """Call the C function at ``address`` (compiled code only) with ``args``, all 64-bit integers (addresses
    and sizes); it returns nothing: its C signature must be ``void f(int64 or uint64, ...)`` with as
    many arguments (e.g. a ``numba.cfunc`` with such a signature, by its ``.address``).  Nothing is checked
    at run time: a wrong address or signature is undefined behaviour, so the callers pass only addresses of
    callbacks they compiled with the matching signature."""
    args = tuple(args[0]) if len(args) == 1 and isinstance(args[0], nb_types.BaseTuple) else tuple(args)
    if not isinstance(address, nb_types.Integer) or not all(
            isinstance(a, nb_types.Integer) and a.bitwidth == 64 for a in args):
        return None
    sig = nb_types.void(address, nb_types.StarArgTuple.from_types(args))

    def codegen(context, builder, signature, llargs):
        from llvmlite import ir
        from numba.core import cgutils
        values = cgutils.unpack_tuple(builder, llargs[1], len(args))
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(64)] * len(args))
        builder.call(builder.inttoptr(llargs[0], fnty.as_pointer()), values)
        return context.get_dummy_value()
    return sig, codegen
