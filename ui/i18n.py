"""The page's languages: one JSON file per language in `ui/locales/`, loaded into `gr.I18n`.

Keys are flat (`tab.generate`, `generate.seeds.label`, `howto.generate.body`, ...). Gradio's
own keys may be given too (`upload_text.drop_file`, `common.or`, ...): Gradio has no Greek,
Croatian or Tagalog for its widgets, so ours fill in (en, nl, fi repeat Gradio's own). Two kinds:

- page text (every key not starting with `msg.`): labels, buttons, tab names, info texts and
  the "How it works" panels. They go to `gr.I18n` and are translated in the browser. They hold
  no `{placeholders}`: the browser may read them as ICU message variables (svelte-i18n).
- messages (`msg.*`): text the server writes into results, with `{placeholders}` filled by
  `translate(key, lang, **values)`; `language_of(request)` picks the language from the
  request's Accept-Language header.

What Gradio 6.31 does with `demo.launch(i18n=gr.I18n(...))` (read from its frontend and checked
in Chromium):

- The first locale is `navigator.language` if it is one of Gradio's *own* 33 UI languages
  (exact tag, else its base language), else English. Custom translations do not widen that
  list, so Dutch and Finnish browsers get their language, while Greek, Croatian and Tagalog
  browsers get English.
- Gradio's footer Settings panel has a language menu, again only with its own languages (nl
  and fi, not el, hr, tl). There is no URL parameter for the language and the choice is not
  stored.
- Changing the locale at run time re-renders every translated string; it needs Gradio's
  `changeLocale`, which is not on `window`. `SET_LOCALE_JS` imports it from the page's own
  `core-*.js` module (found among the loaded resources, so no version-specific file name), and
  `BROWSER_LOCALE_JS` picks the best of our six languages from the browser's list (or the
  stored choice) on load. Wire them as:
  `demo.load(None, None, selector, js=BROWSER_LOCALE_JS)` and
  `selector.input(None, selector, None, js=SET_LOCALE_JS)` (`input`, not `change`: the load
  sets the selector too, and only a person's choice is stored).
  Both rely on Gradio internals: the browser test must cover them on every Gradio upgrade.
- After such a run-time change, Gradio 6.31 re-renders every translated string except the
  names of the tabs not yet opened: the tab bar keeps the names it resolved at page load (in
  English) until a tab is opened. The scripts therefore also rename those tab buttons from
  the `tab.*` texts (`_RELABEL_TABS`), now and whenever the tab bar is drawn again (an
  observer), so a Greek, Croatian or Tagalog page shows every tab name in its language.
- Gradio 6.31 shows an example's label (`gr.Examples(example_labels=...)`) as given, without
  translating it. The code passes the English text of an `example.*` key (`translate(key)`),
  and the same scripts replace it in the examples' buttons (`.gallery-item`) by the page
  language's text (`relabel_keys`).
"""

from __future__ import annotations

import functools
import json
import string
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LESSONS_DIR = Path(__file__).resolve().parent / "lessons"  # the Lesson tab's long texts
LANGUAGES: dict[str, str] = {
    "en": "English",
    "nl": "Nederlands",
    "tl": "Tagalog",
    "el": "Ελληνικά",
    "fi": "Suomi",
    "hr": "Hrvatski",
}
DEFAULT = "en"
ALIASES = {"fil": "tl"}  # browsers set to Filipino read the Tagalog page
MESSAGE_PREFIX = "msg."
STORAGE_KEY = "gan-studio-language"


@functools.cache
def load_translations(
    folder: Path = LOCALES_DIR, lessons: Path | None = LESSONS_DIR
) -> dict[str, dict[str, str]]:
    """{language: {key: text}} for every language in `LANGUAGES`: `folder/<lang>.json`, and the
    lesson's `lessons/<lang>.json` merged in (its keys are `tab.lesson` and `lesson.*`)."""
    out = {}
    for lang in LANGUAGES:
        out[lang] = _read(folder / f"{lang}.json")
        if lessons is not None:
            out[lang] |= _read(lessons / f"{lang}.json")
    return out


def _read(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def page_texts(translations: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The browser-side part: every key except the server's `msg.*` messages."""
    return {
        lang: {k: v for k, v in texts.items() if not k.startswith(MESSAGE_PREFIX)}
        for lang, texts in translations.items()
    }


def build_i18n(folder: Path = LOCALES_DIR):
    """A `gr.I18n` with the page texts of all languages (pass it to `demo.launch(i18n=...)`)."""
    import gradio as gr  # here, so that the checks and `translate` work without Gradio

    return gr.I18n(**page_texts(load_translations(folder)))


def translate(key: str, lang: str = DEFAULT, **values: object) -> str:
    """A message in `lang` (English where the key is missing), placeholders filled."""
    translations = load_translations()
    texts = translations.get(normalise(lang) or DEFAULT, translations[DEFAULT])
    text = texts.get(key) or translations[DEFAULT][key]
    return text.format(**values) if values else text


def has_message(key: str) -> bool:
    """Whether the English file has message `key`."""
    return key in load_translations()[DEFAULT]


def normalise(tag: str | None) -> str | None:
    """A BCP 47 tag (`el-GR`, `fil`, `NL`) -> one of `LANGUAGES`, or None."""
    tag = (tag or "").strip().lower().replace("_", "-")
    for candidate in (tag, tag.split("-")[0]):
        candidate = ALIASES.get(candidate, candidate)
        if candidate in LANGUAGES:
            return candidate
    return None


def best_language(accept_language: str | None) -> str:
    """The best of `LANGUAGES` for an Accept-Language header (q-values honoured)."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        if lang := normalise(tag):
            return lang
    return DEFAULT


def language_of(request: object | None) -> str:
    """The language for a `gr.Request` (its Accept-Language header); English without one."""
    headers = getattr(request, "headers", None) or {}
    return best_language(headers.get("accept-language"))


# --- Checks (the test runs them on the shipped files) ------------------------------------------


def placeholders(text: str) -> set[str]:
    """Names of the `{placeholders}` in a str.format text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def problems(translations: dict[str, dict[str, str]], reference: str = DEFAULT) -> list[str]:
    """Everything wrong with a set of translations, one line each (empty: all good)."""
    ref = translations[reference]
    out = []
    for lang, texts in translations.items():
        out += [f"{lang}: missing {k}" for k in ref if k not in texts]
        out += [f"{lang}: unknown key {k}" for k in texts if k not in ref]
        for key, text in texts.items():
            out += _text_problems(lang, key, text, ref.get(key))
    return out


def _text_problems(lang: str, key: str, text: object, ref: str | None) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        return [f"{lang}: {key} is empty"]
    try:
        names = placeholders(text)
    except ValueError as e:
        return [f"{lang}: {key} has a malformed placeholder ({e})"]
    if not key.startswith(MESSAGE_PREFIX):
        # page texts go through the browser's ICU formatter, which reads { } as variables
        return [f"{lang}: page text {key} contains {{ or }}"] if "{" in text or "}" in text else []
    expected = placeholders(ref) if ref is not None else names
    if names != expected:
        return [f"{lang}: {key} has placeholders {sorted(names)}, not {sorted(expected)}"]
    return []


# --- Browser side (see the module docstring) ---------------------------------------------------


def tab_names(translations: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """{`tab.*` key: {language: name}}: the names of the tab buttons."""
    return relabel_keys(translations, ("tab.",))


def relabel_keys(
    translations: dict[str, dict[str, str]] | None = None,
    prefixes: tuple[str, ...] = ("tab.", "lesson.step.", "example."),
) -> dict[str, dict[str, str]]:
    """{key: {language: text}} of the texts that the scripts put into the page themselves:
    the `tab.*` names of the tab buttons (and the Lesson's step list, `lesson.step.*`) and
    the `example.*` captions of the examples
    (Gradio 6.31 shows an example's label as given, untranslated: the code passes the
    English text, which the scripts replace by the page language's)."""
    translations = translations or load_translations()
    keys = [k for k in translations[DEFAULT] if k.startswith(prefixes)]
    return {k: {lang: texts[k] for lang, texts in translations.items()} for k in keys}


# Gradio's tab buttons (the tab bar, its hidden copy that measures them, the "More tabs"
# menu) and the examples' buttons.
TAB_BUTTONS = (
    "[role=tablist] button, .tab-container button, [aria-label='More tabs'] ~ div button, "
    ".gallery-item"
)
# The tab buttons' names in `window.ganStudioLang`; runs on every change under the page body
# (a text node is changed only where it differs, so the observer settles at once).
_RELABEL_TABS = """
  window.ganStudioLang = lang;
  if (!window.ganStudioRelabel) {
    const names = TAB_NAMES, key_of = new Map();
    for (const [key, texts] of Object.entries(names))
      for (const text of Object.values(texts)) key_of.set(text, key);
    const relabel = () => {
      for (const button of document.querySelectorAll(TAB_BUTTONS)) {
        const walk = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
          const node = walk.currentNode, key = key_of.get(node.nodeValue.trim());
          const want = key && names[key][window.ganStudioLang];
          if (want && node.nodeValue.trim() !== want) node.nodeValue = want;
        }
      }
    };
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; relabel(); });
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
    window.ganStudioRelabel = relabel;
  }
"""

_CHANGE_LOCALE = (
    _RELABEL_TABS
    + """
  const core = performance.getEntriesByType('resource').map((e) => e.name)
    .find((n) => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (!core) { console.warn('GAN Studio: Gradio core module not found'); return lang; }
  import(core).then((m) => { m.changeLocale(lang); window.ganStudioRelabel(); });
"""
)

# A choice made in the selector is stored; the browser's own languages are not, so that a
# changed browser language still applies until someone picks one.
SET_LOCALE_JS = (
    (
        "(lang) => {"
        + _CHANGE_LOCALE
        + "  try { localStorage.setItem(STORAGE_KEY, lang); } catch (e) {}\n  return lang;\n}"
    )
    .replace("STORAGE_KEY", json.dumps(STORAGE_KEY))
    .replace("TAB_NAMES", json.dumps(relabel_keys(), ensure_ascii=False))
    .replace("TAB_BUTTONS", json.dumps(TAB_BUTTONS))
)

BROWSER_LOCALE_JS = (
    """() => {
  const supported = SUPPORTED, aliases = ALIASES;
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch (e) {}
  const wanted = stored ? [stored] : (navigator.languages || [navigator.language]);
  let lang = DEFAULT;
  outer: for (const tag of wanted) {
    const t = (tag || '').toLowerCase();
    for (let c of [t, t.split('-')[0]]) {
      c = aliases[c] || c;
      if (supported.includes(c)) { lang = c; break outer; }
    }
  }
"""
    + _CHANGE_LOCALE
    + "  return lang;\n}"
)
for _name, _value in (
    ("SUPPORTED", json.dumps(list(LANGUAGES))),
    ("ALIASES", json.dumps(ALIASES)),
    ("STORAGE_KEY", json.dumps(STORAGE_KEY)),
    ("DEFAULT", json.dumps(DEFAULT)),
    ("TAB_NAMES", json.dumps(relabel_keys(), ensure_ascii=False)),
    ("TAB_BUTTONS", json.dumps(TAB_BUTTONS)),
):
    BROWSER_LOCALE_JS = BROWSER_LOCALE_JS.replace(_name, _value)


def t(key: str):
    """A page text by key, translated in the browser (a label, a button, a Markdown text)."""
    from gradio.i18n import I18nData

    return I18nData(key)


def howto(key: str, open: bool = False, title: str = "common.howto") -> None:
    """The "How it works" accordion of a tab: `howto.<key>.body` in the page's language."""
    import gradio as gr

    with gr.Accordion(t(title), open=open):
        gr.Markdown(t(f"howto.{key}.body"))


def language_selector(demo) -> object:
    """The header's language menu: starts at the browser's language (or the stored choice) and
    switches the page when a person picks another one. Made once per page: the header puts it
    in its row, and a later call (app.py's) returns that one."""
    import gradio as gr

    made = getattr(demo, "gan_studio_language", None)
    if made is not None:
        return made
    choices = [(name, code) for code, name in LANGUAGES.items()]
    selector = gr.Dropdown(
        choices,
        value=DEFAULT,
        label=t("app.language.label"),
        info=t("app.language.info"),
        scale=1,
        min_width=200,
    )
    demo.gan_studio_language = selector
    demo.load(None, None, selector, js=BROWSER_LOCALE_JS, api_visibility="private")
    selector.input(None, selector, None, js=SET_LOCALE_JS, api_visibility="private")
    return selector
