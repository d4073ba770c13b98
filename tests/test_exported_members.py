"""The public namespace stays curated: sorted, complete, importable."""

import frt_experiments


def test_all_is_sorted_and_unique():
    names = frt_experiments.__all__
    assert list(names) == sorted(names)
    assert len(set(names)) == len(names)


def test_every_exported_name_exists():
    for name in frt_experiments.__all__:
        assert hasattr(frt_experiments, name), name


def test_public_names_are_exported():
    public = {
        n for n, v in vars(frt_experiments).items()
        if not n.startswith("_") and not getattr(v, "__name__", "").startswith("frt_experiments.")
    }
    assert public <= set(frt_experiments.__all__)
