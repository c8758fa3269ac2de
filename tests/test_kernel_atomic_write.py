"""One atomic-write helper: unique temporary names, so writers of one path never collide."""

import threading

import pytest

from paddock.kernel.atomic_write import atomic_file, write_atomically


def test_two_writers_of_one_path_never_interleave_or_fail(tmp_path):
    path = tmp_path / "export.jsonl"
    contents = {name: "".join(f"{name} {i}\n" for i in range(2000)) for name in ("a", "b")}
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def writer(name: str) -> None:
        try:
            for _ in range(30):
                with atomic_file(path, "w") as stream:
                    for line in contents[name].splitlines(keepends=True):
                        stream.write(line)
        except BaseException as exc:  # the test reports any failure
            errors.append(exc)

    def reader() -> None:
        while not done.is_set():
            if path.exists():
                seen.add(path.read_text())

    threads = [threading.Thread(target=writer, args=(name,)) for name in contents]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert errors == []
    assert seen <= set(contents.values())  # only ever a whole file of one writer
    assert path.read_text() in contents.values()
    assert [p.name for p in tmp_path.iterdir()] == ["export.jsonl"]


def test_an_error_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = write_atomically(tmp_path / "f.txt", "old\n")
    with pytest.raises(RuntimeError), atomic_file(path, "w") as stream:
        stream.write("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_text_bytes_and_lines(tmp_path):
    assert write_atomically(tmp_path / "t", "é\n").read_bytes() == "é\n".encode()
    assert write_atomically(tmp_path / "b", b"\x00\xff").read_bytes() == b"\x00\xff"
    assert write_atomically(tmp_path / "l", iter(["a\n", "b\n"])).read_text() == "a\nb\n"
