"""Lessons: the file format and its checks against the view registry, the URL position, what
the views compute, and the Lesson page (AppTest) with and without the dataset."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT, cifake_files, watch_until_finished, write_zip
from streamlit.testing.v1 import AppTest

from core.data.dataset import load_dataset
from core.labs import lesson_material
from core.labs.lesson_views import VIEWS, views_markdown
from core.labs.lessons import (
    LESSONS_DIR,
    LessonError,
    Lessons,
    day_code,
    load_lessons,
    locate,
    parse_lesson,
)
from core.labs.quiz import normalise_code

APP = str(REPO_ROOT / "streamlit_app.py")
SHIPPED = load_lessons(LESSONS_DIR)
MAIN = SHIPPED.find("real-or-generated")

GOOD = '''
title = "A test lesson"

[[steps]]
title = "Look"
minutes = 2
view = "real_vs_fake"
text = "Some images."

[steps.settings]
classes = ["cat", "dog"]
per_class = 3

[[steps]]
title = "Spectrum"
minutes = 1.5
view = "spectrum"
text = "Waves."
points = ["one", "two"]
question = "Why?"
answer = "Because."
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shipped lessons

def test_the_shipped_lessons_load_and_name_only_valid_views_and_settings():
    assert SHIPPED.problems == ()
    assert [lesson.id for lesson in SHIPPED.lessons] == ["real-or-generated", "quick-look"]
    assert MAIN.title == "Real or generated?"
    assert 10 <= len(MAIN.steps) <= 12 and 30 <= MAIN.minutes <= 45
    assert [s.view for s in MAIN.steps] == [
        "real_vs_fake", "quiz_items", "pixel_histograms", "blur_background", "spectrum",
        "embedding_pair", "training_live", "inside_cnn", "gradcam", "confidence", "failures",
        "class_quiz"]
    for lesson in SHIPPED.lessons:
        for step in lesson.steps:
            view = VIEWS[step.view]
            assert set(step.settings) == {s.name for s in view.settings}
            for name, value in step.settings.items():
                assert view.setting(name).check(list(value) if isinstance(value, tuple)
                                                 else value) == value
    for step in MAIN.steps:  # every step of the class lesson has complete teacher notes
        assert step.text and step.points and step.question and step.answer
    assert 3 <= len(SHIPPED.find("quick-look").steps) <= 4


def test_every_registered_view_has_a_renderer_and_valid_defaults():
    from pages._lesson_views import views

    assert set(views()) == set(VIEWS)
    for view in VIEWS.values():
        for setting in view.settings:
            default = list(setting.default) if setting.kind == "list" else setting.default
            assert setting.check(default) == setting.default


def test_the_documentation_lists_the_registry_and_its_examples_load(tmp_path):
    docs = (REPO_ROOT / "docs" / "lessons.md").read_text()
    assert views_markdown() in docs  # regenerate with views_markdown() when the registry changes
    assert all(len(line) <= 100 for line in docs.splitlines())
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    lesson = parse_lesson(write(tmp_path, "sharp-fakes.toml", example))
    assert [s.view for s in lesson.steps] == ["real_vs_fake", "blur_background"]
    readme = (REPO_ROOT / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    lesson = parse_lesson(write(tmp_path, "readme.toml", example))
    assert [(s.view, s.settings["classes"]) for s in lesson.steps] == \
        [("real_vs_fake", ("cat", "dog"))]


# ---------------------------------------------------------------- the format

def test_a_lesson_file_parses_into_typed_steps_with_defaults(tmp_path):
    lesson = parse_lesson(write(tmp_path, "my-lesson.toml", GOOD))
    assert (lesson.id, lesson.title, lesson.minutes, lesson.order) == ("my-lesson",
                                                                      "A test lesson", 3.5, 100)
    look, spectrum = lesson.steps
    assert look.settings == {"classes": ("cat", "dog"), "per_class": 3, "split": "test",
                             "seed": 0}
    assert (look.points, look.question, look.answer) == ((), "", "")
    assert spectrum.settings == {"class": "all", "radial": True}
    assert spectrum.points == ("one", "two") and spectrum.answer == "Because."


@pytest.mark.parametrize("change, expected", [
    (("per_class = 3", "per_class = 3\nper_class = 4"),
     "bad.toml: not valid TOML: Cannot overwrite a value (at line 13, column 14)"),
    (('view = "spectrum"', 'view = "spectra"'),
     "bad.toml, step 2 (“Spectrum”), key `view`: unknown view 'spectra'; known views: text, "),
    (("per_class = 3", "per_class = 3\nzoom = 2"),
     "bad.toml, step 1 (“Look”), key `settings.zoom`: unknown setting of the view "
     "'real_vs_fake'; its settings: classes, per_class, split, seed"),
    (("per_class = 3", "per_class = 9"),
     "bad.toml, step 1 (“Look”), key `settings.per_class`: 9 is out of range; expected an "
     "integer from 1 to 4"),
    (("per_class = 3", 'per_class = "3"'),
     "bad.toml, step 1 (“Look”), key `settings.per_class`: '3' is a text; expected an integer"),
    (('classes = ["cat", "dog"]', 'classes = ["cat", "unicorn"]'),
     "bad.toml, step 1 (“Look”), key `settings.classes`: ['cat', 'unicorn'] is not allowed"),
    (("minutes = 1.5", "minutes = 0"),
     "bad.toml, step 2 (“Spectrum”), key `minutes`: 0 is out of range"),
    (("minutes = 1.5", 'minutes = "soon"'),
     "bad.toml, step 2 (“Spectrum”), key `minutes`: 'soon' is not a number of minutes"),
    (('question = "Why?"', 'question = "Why?"\nnotes = "x"'),
     "bad.toml, step 2 (“Spectrum”), key `notes`: unknown key; expected one of: title, text, "),
    (('title = "Look"\n', ""), "bad.toml, step 1, key `title`: missing"),
    (('title = "A test lesson"', 'titel = "A test lesson"'), "bad.toml, key `titel`: unknown key"),
])
def test_a_bad_lesson_file_names_the_file_step_and_key(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    with pytest.raises(LessonError) as caught:
        parse_lesson(write(tmp_path, "bad.toml", GOOD.replace(old, new, 1)))
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.problems


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = GOOD.replace("per_class = 3", "per_class = 0").replace('view = "spectrum"',
                                                                 'view = "nope"')
    with pytest.raises(LessonError) as caught:
        parse_lesson(write(tmp_path, "two.toml", text))
    assert [(p.step, p.key) for p in caught.value.problems] == [(1, "settings.per_class"),
                                                               (2, "view")]


def test_bad_files_do_not_stop_the_other_lessons_from_loading(tmp_path):
    write(tmp_path, "good.toml", GOOD)
    write(tmp_path, "broken.toml", "title = \n")
    write(tmp_path, "Bad Name.toml", GOOD)
    write(tmp_path, "no-steps.toml", 'title = "Empty"\nsteps = []\n')
    (tmp_path / "latin1.toml").write_bytes('title = "Caf\xe9"\n'.encode("latin-1"))
    write(tmp_path, "notes.md", "not a lesson")
    found = load_lessons(tmp_path)
    assert [lesson.id for lesson in found.lessons] == ["good"]
    messages = sorted(str(p) for p in found.problems)
    assert [m.split(":")[0] for m in messages] == ["Bad Name.toml", "broken.toml",
                                                   "latin1.toml", "no-steps.toml, key `steps`"]
    assert "not valid TOML" in messages[1] and "not UTF-8 text" in messages[2]


def test_lessons_are_ordered_by_their_order_then_file_name(tmp_path):
    write(tmp_path, "b.toml", GOOD)
    write(tmp_path, "a.toml", GOOD)
    write(tmp_path, "z.toml", GOOD.replace('title = "A test lesson"',
                                           'title = "First"\norder = 1'))
    assert [lesson.id for lesson in load_lessons(tmp_path).lessons] == ["z", "a", "b"]


# ---------------------------------------------------------------- the URL

def test_locate_reads_good_url_values():
    position = locate(SHIPPED, lesson="quick-look", step="3", presenter="true")
    assert (position.lesson.id, position.step, position.presenter, position.notices) == (
        "quick-look", 3, True, ())
    assert locate(SHIPPED).lesson.id == "real-or-generated"
    assert locate(SHIPPED, presenter="OFF").presenter is False
    assert locate(SHIPPED, presenter="1").presenter is True


@pytest.mark.parametrize("values, expected, notice", [
    ({"lesson": "nope"}, ("real-or-generated", 1, False), "No lesson “nope”"),
    ({"step": "99"}, ("real-or-generated", 1, False), "No step “99” in “Real or generated?”"),
    ({"step": "0"}, ("real-or-generated", 1, False), "No step “0”"),
    ({"step": "3x"}, ("real-or-generated", 1, False), "No step “3x”"),
    ({"lesson": "quick-look", "step": "5"}, ("quick-look", 1, False), "(steps 1 to 4)"),
    ({"step": "2", "presenter": "banana"}, ("real-or-generated", 2, False),
     "Presenter mode “banana” is neither on nor off"),
])
def test_locate_falls_back_with_a_notice(values, expected, notice):
    position = locate(SHIPPED, **values)
    assert (position.lesson.id, position.step, position.presenter) == expected
    assert len(position.notices) == 1 and notice in position.notices[0]


def test_locate_needs_a_lesson():
    with pytest.raises(ValueError):
        locate(Lessons((), ()))


def test_the_code_of_the_day_is_a_quiz_code_shared_for_a_day():
    code = day_code("real-or-generated", date(2025, 3, 14))
    assert normalise_code(code) == code and len(code) == 6
    assert day_code("real-or-generated", date(2025, 3, 14)) == code
    assert day_code("real-or-generated", date(2025, 3, 15)) != code
    assert day_code("quick-look", date(2025, 3, 14)) != code


# ---------------------------------------------------------------- what the views compute

def test_image_board_places_images_labels_and_frames():
    images = np.zeros((2, 3, 4, 4, 3), np.uint8)
    images[1, 2] = 200
    plain = lesson_material.image_board(images, scale=2, gap=4)
    assert plain.shape == (4 + 2 * (8 + 4), 4 + 3 * (8 + 4), 3)
    assert (plain[16:24, 28:36] == 200).all() and (plain[4:12, 4:12] == 0).all()
    framed = lesson_material.image_board(images, scale=2, gap=4, row_labels=["REAL", "FAKE"],
                                         column_labels=["a", "", "b"],
                                         borders=[["", "", ""], ["", "", "#ff0000"]])
    assert framed.shape[0] > plain.shape[0] and framed.shape[1] > plain.shape[1]
    red = (framed == [255, 0, 0]).all(axis=-1)
    assert red.sum() == 12 * 12 - 8 * 8  # a 2-pixel frame around the last image only


def test_pairs_and_quiz_rows_come_from_the_asked_split_labels_and_classes(tmp_path):
    dataset = load_dataset(write_zip(tmp_path / "t.zip", cifake_files(20)), cache_dir=None)
    kept, rows = lesson_material.pair_rows(dataset, [1, 2, 3], 2, split=1, seed=0)
    assert kept == [1, 2, 3] and rows.shape == (2, 6)
    assert (dataset.labels[rows[0]] == 0).all() and (dataset.labels[rows[1]] == 1).all()
    assert (dataset.splits[rows] == 1).all()
    assert dataset.classes[rows[0]].tolist() == [1, 1, 2, 2, 3, 3]
    rows, labels = lesson_material.quiz_rows(dataset, 5, seed=4)
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 1]
    assert (dataset.labels[rows] == labels).all() and (dataset.splits[rows] == 1).all()
    again, _ = lesson_material.quiz_rows(dataset, 5, seed=4)
    assert again.tolist() == rows.tolist()


def test_band_summary_counts_the_undecided_and_the_accuracy_of_the_rest():
    p = np.array([0.05, 0.45, 0.55, 0.95, 0.3, 0.7])
    y = np.array([0, 1, 0, 1, 1, 0])
    summary = lesson_material.band_summary(p, y, 0.5, 0.1)
    assert (summary.low, summary.high) == pytest.approx((0.4, 0.6))
    assert summary.inconclusive_share == pytest.approx(2 / 6)
    assert summary.accuracy_all == pytest.approx(2 / 6)
    assert summary.accuracy_decided == pytest.approx(2 / 4)


def test_neighbour_agreement_is_one_for_separate_groups_and_near_half_for_a_mix():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    apart = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(20, 1, (200, 2))])
    assert lesson_material.neighbour_agreement(apart, labels) == 1.0
    mixed = rng.normal(0, 1, (400, 2))
    assert 0.4 < lesson_material.neighbour_agreement(mixed, labels) < 0.6


# ---------------------------------------------------------------- the page

def lesson_page(data_path: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["data_path"] = data_path
    at.run()
    at.query_params.update(params)
    at.switch_page("pages/lesson.py")
    return at.run()


def shown_title(at: AppTest) -> str:
    return ([t.value for t in at.title] + [h.value for h in at.header])[-1]


def every_step(at: AppTest, lesson, presenter: bool) -> None:
    for number, step in enumerate(lesson.steps, start=1):
        at.query_params.update({"lesson": lesson.id, "step": str(number)})
        if presenter:
            at.query_params["presenter"] = "true"
        at.run()
        assert not at.exception, (lesson.id, number, [e.value for e in at.exception])
        assert shown_title(at) == step.title
        assert not at.error, (number, [e.value for e in at.error])


@pytest.mark.slow
def test_every_step_renders_without_the_dataset(tmp_path):
    at = lesson_page(str(tmp_path))
    for lesson in SHIPPED.lessons:
        every_step(at, lesson, presenter=False)  # presenter mode: with the dataset, below
    at.query_params.update({"lesson": MAIN.id, "step": "2"})
    at.run()
    assert "Quiz images: not shown" in " ".join(i.value for i in at.info)


@pytest.mark.real_data
@pytest.mark.slow
def test_every_step_renders_with_the_real_dataset(cifake_zip):
    at = lesson_page(str(cifake_zip))
    for lesson in SHIPPED.lessons:
        every_step(at, lesson, presenter=False)
    every_step(at, MAIN, presenter=True)
    at.query_params.update({"lesson": MAIN.id, "step": "2"})
    at.run()
    assert len(at.get("image")) == 1
    next(b for b in at.button if b.label == "Reveal the answers").click().run()
    assert "REAL" in " ".join(m.value for m in at.markdown) and not at.exception


@pytest.mark.slow
def test_the_url_opens_a_step_and_the_buttons_move_it(tmp_path):
    at = lesson_page(str(tmp_path), step="3")
    assert not at.exception and not [w for w in at.warning if "No step" in w.value]
    assert shown_title(at) == MAIN.steps[2].title == "Pixel intensities"
    assert at.button(key="lesson_goto_list_3").proto.type == "primary"  # the current step
    assert at.button(key="lesson_goto_list_4").proto.type == "tertiary"
    assert at.toggle(key="lesson_presenter").value is False
    assert at.query_params["lesson"] == "real-or-generated"  # the link names its lesson
    next(b for b in at.button if b.label == "Next").click().run()
    assert at.query_params["step"] == "4" and shown_title(at) == MAIN.steps[3].title
    at.button(key="lesson_goto_list_9").click().run()  # the list of steps
    assert at.query_params["step"] == "9" and shown_title(at) == MAIN.steps[8].title
    at.toggle(key="lesson_presenter").set_value(True).run()
    assert at.query_params["presenter"] == "true"
    assert [t.value for t in at.title] == [MAIN.steps[8].title]  # one step per screen
    at.button(key="lesson_goto_menu_2").click().run()  # the Steps menu
    assert at.query_params["step"] == "2" and at.query_params["presenter"] == "true"
    assert not [s for s in at.selectbox if s.key == "lesson_pick"]
    at.toggle(key="lesson_presenter").set_value(False).run()
    assert "presenter" not in at.query_params
    at.selectbox(key="lesson_pick").set_value("quick-look").run()
    assert (at.query_params["lesson"], at.query_params["step"]) == ("quick-look", "1")
    assert shown_title(at) == SHIPPED.find("quick-look").steps[0].title


def test_a_presenter_link_opens_presenter_mode(tmp_path):
    at = lesson_page(str(tmp_path), lesson="real-or-generated", step="6", presenter="true")
    assert not at.exception
    assert [t.value for t in at.title] == ["Two maps of the same images"]
    assert at.toggle(key="lesson_presenter").value is True
    assert not [w for w in at.get("segmented_control")]  # the view's own controls are hidden


@pytest.mark.parametrize("params, notice, title", [
    ({"step": "99"}, "No step “99”", "What CIFAKE is"),
    ({"lesson": "nope", "step": "2"}, "No lesson “nope”", "Can you tell?"),
    ({"step": "4", "presenter": "banana"}, "neither on nor off", "Blur and background defects"),
])
def test_a_bad_url_value_falls_back_with_a_notice(tmp_path, params, notice, title):
    at = lesson_page(str(tmp_path), **params)
    assert not at.exception
    assert sum(notice in w.value for w in at.warning) == 1
    assert shown_title(at) == title
    assert at.query_params.get("presenter") is None and at.query_params["step"] != "99"


def test_files_with_errors_are_listed_and_the_others_still_work(tmp_path, monkeypatch):
    folder = tmp_path / "lessons"
    folder.mkdir()
    write(folder, "good.toml", GOOD)
    write(folder, "other.toml", GOOD.replace('title = "A test lesson"', 'title = "Other"'))
    write(folder, "bad.toml", GOOD.replace('view = "spectrum"', 'view = "spectra"'))
    monkeypatch.setattr("core.labs.lessons.LESSONS_DIR", folder)
    at = lesson_page(str(tmp_path))
    assert not at.exception
    assert at.title[0].value == "A test lesson"
    assert "1 lesson file(s) could not be loaded" in [e.label for e in at.expander]
    assert "bad.toml, step 2 (“Spectrum”), key \\`view\\`: unknown view 'spectra'" in \
        " ".join(m.value for m in at.markdown)
    write(folder, "good.toml", "broken =")
    write(folder, "other.toml", "broken =")
    at = lesson_page(str(tmp_path))
    assert not at.exception and "No lesson could be loaded" in at.error[0].value


def test_the_class_quiz_step_shows_its_code_link_and_the_class_results(tmp_path, monkeypatch):
    from core.labs.quiz_store import QuizStore

    db = tmp_path / "quiz.sqlite"
    monkeypatch.setenv("CIFAKE_QUIZ_DB", str(db))
    code = day_code("real-or-generated", date.today())
    for answers in ([0, 1, 1, 0], [1, 1, 0, 0]):
        QuizStore(db).save(player="x", code=code, answers=answers,
                           labels=np.array([0, 1, 0, 1]), model_accuracy={"flagship": 1.0})
    at = lesson_page(str(tmp_path), step="12")
    assert not at.exception
    assert any(code in str(h.proto.body) for h in at.get("html"))
    links = [p for p in at.get("page_link") if "quiz_code" in str(p.proto)]
    assert links and code in str(links[0].proto)
    assert f"/quiz?quiz_code={code}" in at.code[0].value
    assert "2 finished round(s)" in " ".join(c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.slow
def test_the_training_step_trains_with_the_shared_trainer(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    zip_path = write_zip(tmp_path / "tiny.zip", cifake_files(60, separable=True))
    path = tmp_path / "quick.toml"
    write(tmp_path, "quick.toml", '''title = "Train"
[[steps]]
title = "Train"
minutes = 1
view = "training_live"
text = "Go."
[steps.settings]
epochs = 1
images = 1000
''')
    monkeypatch.setattr("core.labs.lessons.LESSONS_DIR", path.parent)
    at = lesson_page(str(zip_path))
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    run = next(iter(at.session_state["lesson_runs"].values()))[-1]
    watch_until_finished(run)
    at.run()
    assert run.state == "done", run.error
    assert run.settings.n_train == int(60 * 2 * 0.9)  # 1,000 asked, the training pool given
    shown = {m.label: m.value for m in at.metric}
    assert shown["Test accuracy"] == f"{100 * run.result['test_accuracy']:.1f} %"
    assert "Train again" in [b.label for b in at.button]


def test_the_committed_summary_has_the_cnn_maps_the_lesson_shows():
    summary = json.loads((REPO_ROOT / "data" / "summary" / "embedding.json").read_text())
    reports = {r: json.loads((REPO_ROOT / "models" / f"{r}.json").read_text())["sha256"]
               for r in ("flagship", "scanner", "reference_cnn")}
    for name, sha in reports.items():
        for method in ("tsne", "pca"):
            assert len(summary["coords"][f"cnn-{name}-{sha[:8]}/{method}"]) == 2000
    labels = np.asarray(summary["points"]["label"])
    pixels = np.asarray(summary["coords"]["pixels/tsne"])
    flagship = np.asarray(summary["coords"][f"cnn-flagship-{reports['flagship'][:8]}/tsne"])
    # the lesson's claim: mixed on raw pixels, separated in the flagship's features
    assert lesson_material.neighbour_agreement(pixels, labels) < 0.65
    assert lesson_material.neighbour_agreement(flagship, labels) > 0.95


# ---------------------------------------------------------------- Home

def page_links(at: AppTest) -> list[str]:
    return [p.proto.label for p in at.get("page_link")]


def test_home_leads_with_the_lesson_then_lists_every_page(tmp_path):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["data_path"] = str(tmp_path)
    at.run()
    assert not at.exception
    links = page_links(at)
    assert links[0] == "Start the lesson"
    listed = [label.split("**")[1] for label in links[1:]]
    source = (REPO_ROOT / "streamlit_app.py").read_text()  # the router's list of pages
    routed = [line.split('"')[3] for line in source.splitlines()
              if line.strip().startswith('("') and '.py"' in line]
    assert sorted(listed) == sorted(routed[1:])  # every page but Home, once
    assert listed[0] == "Lesson"
    assert all(len(label) <= 100 for label in links)  # one line each (checked in Chromium)
    assert "60,000 real photos" in " ".join(m.value for m in at.markdown)
    assert not at.get("image")  # no dataset: the committed counts, no teaser


def test_home_shows_a_real_vs_fake_teaser_when_the_data_is_there(tmp_path):
    zip_path = write_zip(tmp_path / "tiny.zip", cifake_files(12))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["data_path"] = str(zip_path)
    at.run()
    assert not at.exception
    images = at.get("image")
    assert len(images) == 1  # one composed picture, not one element per image
    assert "Top: real photos" in images[0].proto.imgs[0].caption
