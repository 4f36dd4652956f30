"""Index persistence: atomic writes with a manifest, reuse, incremental updates, clear errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator import IndexFormatError, Skill, load_policy
from orchestrator.catalog import catalog_hash, load_catalog
from orchestrator.routing import SkillIndex, SkillRouter
from tests.conftest import SAMPLE_CATALOG, CountingEmbedder


@pytest.fixture
def index_copy(sample_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index_dir, target)
    return target


def test_manifest_records_model_dimension_catalog_hash_and_version(sample_index_dir: Path) -> None:
    manifest = SkillIndex.read_manifest(sample_index_dir)
    assert manifest["model"].startswith("all-MiniLM-L6-v2@")
    assert manifest["dimension"] == 384
    assert manifest["catalog_hash"] == catalog_hash(load_catalog(SAMPLE_CATALOG))
    assert manifest["orchestrator"]
    assert manifest["skills"] == len(load_catalog(SAMPLE_CATALOG))


def test_unchanged_catalog_reuses_the_index_without_embedding(
    index_copy: Path, counting_embedder: CountingEmbedder
) -> None:
    router = SkillRouter.from_catalog(
        SAMPLE_CATALOG, index_dir=index_copy, embedder=counting_embedder
    )
    assert counting_embedder.texts_embedded == 0
    assert len(router.skills) == len(load_catalog(SAMPLE_CATALOG))


def test_changed_catalog_embeds_only_new_and_changed_skills(
    index_copy: Path, tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    skills = load_catalog(SAMPLE_CATALOG)
    changed = skills[0].model_copy(update={"description": skills[0].description + " Also pets."})
    added = Skill(name="adopt_a_cat", description="Find cats to adopt at local shelters.")
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(s.model_dump_json() for s in [changed, *skills[1:], added]) + "\n")
    router = SkillRouter.from_catalog(catalog, index_dir=index_copy, embedder=counting_embedder)
    passages_of_two = len(router.index.vectors_of(0)) + len(
        router.index.vectors_of(router.index.row("adopt_a_cat") or 0)
    )
    assert counting_embedder.texts_embedded == passages_of_two
    assert SkillIndex.read_manifest(index_copy)["skills"] == len(skills) + 1
    assert router.route("I want to adopt a kitten", k=1).matches[0].id == "adopt_a_cat"


def test_a_changed_field_outside_the_text_refreshes_the_index_without_embedding(
    index_copy: Path, tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    """A price, a risk hint or metadata (deprecated) changes no embedded text, yet routing reads
    them: the index had been reused as it was, with the old skills."""
    skills = load_catalog(SAMPLE_CATALOG)
    repriced = skills[0].model_copy(update={"price": 9.5, "metadata": {"deprecated": True}})
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(s.model_dump_json() for s in [repriced, *skills[1:]]) + "\n")
    router = SkillRouter.from_catalog(catalog, index_dir=index_copy, embedder=counting_embedder)
    assert counting_embedder.texts_embedded == 0
    fresh = router.skills[router.index.row(repriced.id) or 0]
    assert fresh.price == 9.5 and fresh.deprecated
    assert SkillIndex.load(index_copy).catalog_hash == catalog_hash([repriced, *skills[1:]])


def test_add_skills_updates_the_saved_index_incrementally(
    index_copy: Path, counting_embedder: CountingEmbedder
) -> None:
    router = SkillRouter.from_index(index_copy, embedder=counting_embedder)
    router.add_skills([Skill(name="water_plants", description="Turn on the garden sprinkler.")])
    assert counting_embedder.texts_embedded == 1
    reopened = SkillRouter.from_index(index_copy)
    assert reopened.route("water the garden", k=1).matches[0].id == "water_plants"


def test_loaded_index_routes_like_the_one_that_was_saved(
    sample_router: SkillRouter, sample_index_dir: Path
) -> None:
    reopened = SkillRouter.from_index(sample_index_dir)
    task = "find me a hotel near the Lisbon airport"
    assert [m.id for m in reopened.route(task, k=5).matches] == [
        m.id for m in sample_router.route(task, k=5).matches
    ]


def test_a_failed_save_leaves_the_old_index_untouched(
    index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (index_copy / "manifest.json").read_text()
    index = SkillIndex.load(index_copy)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        index.save(index_copy)
    assert (index_copy / "manifest.json").read_text() == before
    leftovers = [p.name for p in index_copy.parent.iterdir() if p.name != index_copy.name]
    assert leftovers == [], "staging directories must be cleaned up"
    SkillIndex.load(index_copy)  # still a whole, loadable index


def test_corrupt_manifest_is_a_clear_error_naming_the_file(index_copy: Path) -> None:
    (index_copy / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match=r"manifest\.json: unreadable index manifest"):
        SkillRouter.from_index(index_copy)


@pytest.mark.parametrize("manifest", ["[]", "null", "7", '"index"'])
def test_a_manifest_that_is_no_json_object_is_a_clear_error_and_a_cache_heals_it(
    tmp_path: Path, manifest: str
) -> None:
    """It crashed with AttributeError ('list' object has no attribute 'get'), a traceback, on
    reading and on rebuilding alike."""
    skills = [{"name": "get_weather", "description": "Current weather for a city."}]
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    (tmp_path / "i" / "manifest.json").write_text(manifest)
    with pytest.raises(IndexFormatError, match="expected a JSON object"):
        SkillRouter.from_index(tmp_path / "i")
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    assert SkillIndex.read_manifest(tmp_path / "i")["skills"] == 1


def test_a_line_separator_inside_a_description_survives_the_saved_index(tmp_path: Path) -> None:
    """skills.jsonl was split with str.splitlines, which also breaks at U+2028 inside a JSON
    string: the saved index read back as corrupt and was rebuilt on every use."""
    skills = [{"name": "get_weather", "description": "Current weather.\u2028Any city."}]
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    assert SkillIndex.load(tmp_path / "i").skills[0].description.endswith("\u2028Any city.")


@pytest.mark.parametrize("emptied", ["vectors.npy", "owners.npy"])
def test_an_emptied_index_file_is_a_corrupt_index_that_a_cache_rebuilds(
    tmp_path: Path, emptied: str
) -> None:
    """np.load raises EOFError on an empty file, which the CLI reported as a bare "Aborted."."""
    skills = [{"name": "get_weather", "description": "Current weather for a city."}]
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    (tmp_path / "i" / emptied).write_bytes(b"")
    with pytest.raises(IndexFormatError, match="corrupt index"):
        SkillIndex.load(tmp_path / "i")
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    assert len(SkillIndex.load(tmp_path / "i").skills) == 1


def test_index_from_another_format_version_is_rebuilt_when_used_as_a_cache(
    index_copy: Path,
) -> None:
    manifest = json.loads((index_copy / "manifest.json").read_text())
    manifest["format"] = 0
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="rebuild the index"):
        SkillRouter.from_index(index_copy)
    embedder = CountingEmbedder()
    SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=index_copy, embedder=embedder)
    assert embedder.texts_embedded > 0
    assert SkillIndex.read_manifest(index_copy)["format"] != 0


def test_refuses_to_overwrite_a_directory_that_is_not_an_index(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(IndexFormatError, match="not an orchestrator index"):
        SkillRouter.from_catalog(
            [{"name": "noop", "description": "does nothing"}], index_dir=precious
        )
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_a_folder_that_is_not_an_index_is_refused_before_anything_is_embedded(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    embedder = CountingEmbedder()
    with pytest.raises(IndexFormatError, match=r"it holds notes\.txt"):
        SkillRouter.from_catalog(SAMPLE_CATALOG, index_dir=tmp_path / "mine", embedder=embedder)
    assert embedder.texts_embedded == 0


def test_another_programs_manifest_does_not_make_a_folder_an_index(tmp_path: Path) -> None:
    """A plugin folder with its own manifest.json was replaced, its skill files deleted."""
    skills = [{"name": "noop", "description": "does nothing"}]
    plugin = tmp_path / "plugin"
    (plugin / "pdf").mkdir(parents=True)
    (plugin / "pdf" / "SKILL.md").write_text("---\nname: pdf\ndescription: d\n---\nbody\n")
    (plugin / "manifest.json").write_text('{"name": "my-plugin", "version": "1.0.0"}')
    with pytest.raises(IndexFormatError, match="it holds pdf"):
        SkillRouter.from_catalog(skills, index_dir=plugin)
    assert (plugin / "pdf" / "SKILL.md").exists()
    (plugin / "pdf" / "SKILL.md").unlink()
    (plugin / "pdf").rmdir()
    with pytest.raises(IndexFormatError, match=r"its manifest\.json is another program.s"):
        SkillRouter.from_catalog(skills, index_dir=plugin)
    assert (plugin / "manifest.json").read_text().startswith('{"name": "my-plugin"')


def test_refuses_to_replace_a_file_or_write_under_one(tmp_path: Path) -> None:
    precious = tmp_path / "thesis.txt"
    precious.write_text("years of work")
    catalog = [{"name": "noop", "description": "does nothing"}]
    for index_dir in (precious, precious / "index"):
        with pytest.raises(IndexFormatError, match="not a folder; refusing"):
            SkillRouter.from_catalog(catalog, index_dir=index_dir)
    assert precious.read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.txt"]  # no staging folder left


def test_large_catalogs_switch_to_an_hnsw_index_with_the_same_answers(
    sample_router: SkillRouter,
) -> None:
    routing = load_policy().routing
    small_threshold = routing.model_copy(
        update={"index": routing.index.model_copy(update={"hnsw_above": 10})}
    )
    hnsw = SkillIndex.build(
        sample_router.skills,
        sample_router.embedder,
        small_threshold.index,
        previous=sample_router.index,
    )
    assert hnsw.kind == "hnsw" and sample_router.index.kind == "flat"
    router = SkillRouter(hnsw, sample_router.embedder, small_threshold)
    for task in ("convert 100 dollars to yen", "open a pull request", "what's the weather"):
        assert router.route(task, k=3).matches[0].id == sample_router.route(task, k=3).matches[0].id


def test_a_model_retrained_in_place_gets_another_name_so_its_old_index_is_not_reused(
    tmp_path: Path,
) -> None:
    from orchestrator.routing._embedder import _model_id, default_model_path

    model = tmp_path / "model"
    shutil.copytree(default_model_path(), model)
    before = _model_id(model, "m")
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # new weights, same shapes and file size, same config files
    weights.write_bytes(bytes(data))
    assert _model_id(model, "m") != before


def test_an_index_built_with_a_local_embedder_reopens_with_it_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    """`route --catalog C --index DIR` re-embedded an index built with `--embedder mymodel` with
    the default model, unsaid, and `route --index DIR` alone could never open it."""
    from orchestrator.routing._embedder import default_model_path

    model = tmp_path / "mymodel"
    shutil.copytree(default_model_path(), model)
    skills = [{"name": "get_weather", "description": "Current weather for a city."}]
    built = SkillRouter.from_catalog(skills, index_dir=tmp_path / "i", embedder=model)
    assert built.embedder.name.startswith("mymodel@")
    manifest = SkillIndex.read_manifest(tmp_path / "i")
    assert manifest["embedder_path"] == str(model.resolve())
    assert SkillRouter.from_index(tmp_path / "i").embedder.name == built.embedder.name
    again = SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
    assert again.embedder.name == built.embedder.name
    assert SkillIndex.read_manifest(tmp_path / "i") == manifest  # reused, not rewritten
    # Naming another embedder is a choice: the cache is rebuilt with it.
    counting = CountingEmbedder()  # the packaged model
    SkillRouter.from_catalog(skills, index_dir=tmp_path / "i", embedder=counting)
    assert counting.texts_embedded > 0
    assert SkillIndex.read_manifest(tmp_path / "i")["embedder_path"] is None


def test_a_reader_never_finds_the_index_missing_or_mixed_while_it_is_rebuilt(
    tmp_path: Path,
) -> None:
    """Refreshing renamed the old folder away, then the new one in: a reader between the two
    found no index ("no index manifest here"), 1,864 times in a tester's loop of 150 saves."""
    import threading

    one = SkillRouter.from_catalog(
        [{"name": "get_weather", "description": "Current weather for a city."}],
        index_dir=tmp_path / "i",
    ).index
    two = SkillRouter.from_catalog(
        [
            {"name": "get_weather", "description": "Current weather for a city."},
            {"name": "send_email", "description": "Send an email."},
        ],
        index_dir=tmp_path / "scratch",
    ).index
    stop = threading.Event()
    errors: list[Exception] = []
    sizes: set[int] = set()

    def read() -> None:
        while not stop.is_set():
            try:
                loaded = SkillIndex.load(tmp_path / "i")
            except Exception as exc:  # every failure is the finding
                errors.append(exc)
                continue
            sizes.add(len(loaded.skills))
            if len(loaded.owners) != len(loaded.skills):  # files of two versions
                errors.append(AssertionError(f"{len(loaded.skills)} skills, {loaded.owners}"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(60):
            (two if n % 2 else one).save(tmp_path / "i")
            # A breath between rebuilds, as real ones have: back to back on a loaded machine,
            # a reader could meet a new save on each of its tries and be told to try later.
            time.sleep(0.02)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert sizes <= {1, 2}


def test_an_index_folder_gets_the_permissions_mkdir_gives_not_owner_only(tmp_path: Path) -> None:
    """Staged with tempfile.mkdtemp, every index folder was 0700: one built by CI or another
    account was unreadable to everyone else."""
    import os

    umask = os.umask(0o022)
    try:
        skills = [{"name": "get_weather", "description": "Current weather for a city."}]
        SkillRouter.from_catalog(skills, index_dir=tmp_path / "i")
        SkillRouter.from_catalog(
            [*skills, {"name": "b", "description": "b"}], index_dir=tmp_path / "i"
        )
    finally:
        os.umask(umask)
    assert (tmp_path / "i").stat().st_mode & 0o777 == 0o755


def test_skills_added_as_dicts_are_read_as_a_catalog_and_their_duplicates_refused() -> None:
    """add_skills took Skill objects only (a dict failed with AttributeError: 'dict' object has
    no attribute 'id'), and of two added skills sharing an id kept the last, unsaid."""
    from orchestrator.errors import DuplicateSkillError

    router = SkillRouter.from_catalog([{"name": "get_weather", "description": "Weather now."}])
    router.add_skills([{"name": "send_email", "description": "Send an email message."}])
    assert [s.id for s in router.skills] == ["get_weather", "send_email"]
    twice = [{"name": "ping", "description": "a"}, {"name": "ping", "description": "b"}]
    with pytest.raises(DuplicateSkillError, match="ping"):
        router.add_skills(twice)
    assert [s.id for s in router.skills] == ["get_weather", "send_email"]


def test_a_string_where_a_collection_of_ids_or_queries_goes_is_a_type_error(
    sample_router: SkillRouter,
) -> None:
    """route(q, only="stripe_refund") was read one character per id and matched nothing, and
    route_batch("weather") routed seven one-letter queries."""
    with pytest.raises(TypeError, match="got the string 'stripe_create_refund'"):
        sample_router.route("refund a payment", only="stripe_create_refund")
    with pytest.raises(TypeError, match="got one string"):
        sample_router.route_batch("weather")
    allowed = sample_router.route("refund a payment", only=["stripe_create_refund"])
    assert [m.id for m in allowed.matches] == ["stripe_create_refund"]


@pytest.mark.parametrize("copied", ["dense.faiss", "bm25", "vectors.npy"])
def test_a_file_copied_in_from_another_index_is_caught_not_routed_over(
    tmp_path: Path, copied: str
) -> None:
    """Only the skill and owner counts were checked: another index's dense.faiss (6 vectors in
    a 43-skill index) or bm25 loaded without a word, and routing read the wrong rows."""
    one = [{"name": "get_weather", "description": "Current weather for a city."}]
    two = [*one, {"name": "send_email", "description": "Send an email message."}]
    SkillRouter.from_catalog(one, index_dir=tmp_path / "one")
    SkillRouter.from_catalog(two, index_dir=tmp_path / "two")
    source, target = tmp_path / "one" / copied, tmp_path / "two" / copied
    if source.is_dir():
        shutil.rmtree(target)
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    with pytest.raises(IndexFormatError, match=rf"{copied} holds 1"):
        SkillIndex.load(tmp_path / "two")
    SkillRouter.from_catalog(two, index_dir=tmp_path / "two")  # a cache rebuilds it
    assert len(SkillIndex.load(tmp_path / "two").skills) == 2


def test_an_embedder_path_that_is_a_file_is_said_to_be_one(tmp_path: Path) -> None:
    """It was said not to exist, though it did (a catalog given as --embedder)."""
    from orchestrator import ModelLoadError
    from orchestrator.routing._embedder import load_sentence_transformer

    catalog = tmp_path / "tools.jsonl"
    catalog.write_text("{}\n")
    with pytest.raises(ModelLoadError, match=r"tools\.jsonl: is a file, not a model directory"):
        load_sentence_transformer(catalog)
    with pytest.raises(ModelLoadError, match="missing: does not exist"):
        load_sentence_transformer(tmp_path / "missing")
