r"""Training sets of image models as atoms: arrays, ``.npy``/``.npz`` files, image files, array-like datasets.

An image model is trained on a finite set of images scaled to some range (diffusers: pixel values
:math:`[0, 255]` mapped to :math:`[-1, 1]`).  Its memoriser, the exact score of that training set, is the
empirical distribution of the scaled, flattened images, and :func:`nent_ref.total_entropy` of it under the
model's process is the exact :math:`S_{tot}` of the model's own training set.  :func:`load_images` reads
the images and applies the affine scaling

.. math:: x \mapsto a + (b - a)\,\frac{x - \ell}{h - \ell},\qquad (\ell, h) = \text{value\_range},\ (a, b) = \text{target\_range},

and returns the (N, D) atoms with a record of what it did (shape, source, scaling, sha256 of the atoms)
for the spec.  Image files are read with Pillow when it is installed (PNG, JPEG, ...), else with
matplotlib (PNG); 8-bit images give integers in [0, 255], and ``mode`` converts them (``"L"`` grey,
``"RGB"``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["load_images", "IMAGE_SUFFIXES", "scale_values"]

#: File suffixes read as images (anything else in a folder is ignored).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def scale_values(x, value_range, target_range):
    """The affine map of ``value_range`` onto ``target_range`` applied to ``x`` (float64)."""
    (lo, hi), (a, b) = _pair("value_range", value_range), _pair("target_range", target_range)
    return a + (b - a) * ((np.asarray(x, dtype=float) - lo) / (hi - lo))


def _pair(name, value):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (low, high) (got {value!r})") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
        raise ValueError(f"{name} must be two finite numbers with low < high (got {value!r})")
    return lo, hi


def _read_image(path: Path, mode):
    try:
        from PIL import Image
    except ImportError:                                   # pragma: no cover - Pillow comes with matplotlib
        Image = None
    if Image is not None:
        with Image.open(path) as im:
            if mode is not None:
                im = im.convert(mode)
            return np.asarray(im)
    import matplotlib.image as mpimg                      # pragma: no cover
    return mpimg.imread(str(path))                        # pragma: no cover


def _from_source(source, array, mode):
    """(stacked array (N, ...), description of the source)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {str(path)!r}")
            return np.stack([_read_image(p, mode) for p in files]), f"{len(files)} image files in {path}"
        if not path.is_file():
            raise ValueError(f"no such file or folder {str(path)!r}")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), str(path)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                key = array or (f.files[0] if len(f.files) == 1 else None)
                if key is None or key not in f.files:
                    raise ValueError(f"name the array to read from {path.name!r} with array= (it holds {sorted(f.files)})")
                return f[key], f"{path}[{key}]"
        if suffix in IMAGE_SUFFIXES:
            return _read_image(path, mode)[None], str(path)
        raise ValueError(f"images come from a folder, an image file, .npy or .npz (got {path.name!r})")
    if isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, Path)) for p in source):
        return np.stack([_read_image(Path(p), mode) for p in source]), f"{len(source)} image files"
    arr = None
    try:
        arr = np.asarray(source)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object:
        # a dataset: items x or (x, label, ...) indexed 0..len-1 (torch / sklearn style)
        try:
            n = len(source)
            items = [source[i] for i in range(n)]
        except TypeError:
            raise ValueError(f"images must be an array, a dataset with len() and indexing, a folder or a file "
                             f"(got {type(source).__name__})") from None
        items = [it[0] if isinstance(it, (tuple, list)) else it for it in items]
        items = [it.detach().cpu().numpy() if hasattr(it, "detach") else np.asarray(it) for it in items]
        arr = np.stack(items)
        return arr, f"dataset {type(source).__name__} ({n} items)"
    return arr, f"array {arr.shape}"


def load_images(source, *, value_range=None, target_range=(-1.0, 1.0), array=None, mode=None):
    """Images as (N, D) float64 atoms, scaled as the model was trained, and a record of the conversion.

    Parameters
    ----------
    source : str, Path, array-like or dataset
        A folder of image files (sorted by name), an image file, a list of image files, a ``.npy`` or
        ``.npz`` file (``array=`` names the array of an .npz with several), an array (N, ...) or a
        dataset (``len`` and indexing, items ``x`` or ``(x, label)``; torch tensors accepted).
    value_range : (low, high), optional
        The range of the stored values (e.g. ``(0, 255)`` for 8-bit images, ``(0, 16)`` for sklearn's
        digits); None leaves the values as they are (then ``target_range`` is not used).
    target_range : (low, high)
        The range the model was trained on (default ``(-1, 1)``, diffusers' convention).
    mode : str, optional
        Pillow mode for image files (``"L"``, ``"RGB"``).

    Returns
    -------
    points : ndarray (N, D)
    info : dict
        ``source``, ``shape`` (of one image), ``n``, ``scale`` (``{"from": value_range, "to": target_range}``
        or None), ``points_sha256`` (little-endian float64 bytes of the atoms).
    """
    arr, desc = _from_source(source, array, mode)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"images must hold real numbers (got dtype {arr.dtype})")
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ValueError(f"images must be a stack (N, ...) of at least one image (got shape {arr.shape})")
    shape = tuple(int(n) for n in arr.shape[1:])
    pts = arr.reshape(arr.shape[0], -1).astype(float)
    if not np.all(np.isfinite(pts)):
        raise ValueError("the images contain NaN or inf")
    scale = None
    if value_range is not None:
        lo, hi = _pair("value_range", value_range)
        if pts.min() < lo or pts.max() > hi:
            raise ValueError(f"the images hold values in [{pts.min():g}, {pts.max():g}], outside value_range "
                             f"{(lo, hi)}")
        pts = scale_values(pts, (lo, hi), target_range)
        scale = {"from": [lo, hi], "to": list(_pair("target_range", target_range))}
    digest = hashlib.sha256(np.ascontiguousarray(pts, dtype="<f8").tobytes()).hexdigest()
    return pts, {"source": desc, "shape": list(shape), "n": int(pts.shape[0]), "scale": scale,
                 "points_sha256": digest}
