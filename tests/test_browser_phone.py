"""On a 390 px phone (Debian's Chromium via Playwright, ``streamlit run app.py``): the figures are
built for the phone's width. Measured in the browser, on what Plotly and KaTeX drew: no chart
wider than the screen, no two panel titles of a chart on top of each other and none running past
its figure's edge, every formula whole
(no part of it scrolled out of view), and Draw & predict's feature maps large enough to see
(a row of eight 30 px specks over a band of empty space before). Screenshots land in
test-artifacts/."""

from __future__ import annotations

import pytest

from cnnviz import i18n
from tests.test_browser import settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}

# What the page shows, measured: charts sticking out, overlapping annotation texts (panel
# titles are annotations), formulas wider than their box, and per Plotly heatmap chart the
# share of the figure's height its plot areas fill and the pixels per cell.
MEASURE = """() => {
  const width = window.innerWidth;
  const out = {width, wide: [], overlaps: [], cut: [], formulas: [], charts: []};
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
                        a.top < b.bottom - 1 && b.top < a.bottom - 1;
  document.querySelectorAll('[data-testid="stPlotlyChart"]').forEach((chart, i) => {
    const svg = chart.querySelector('.main-svg');
    if (!svg) return;
    const box = svg.getBoundingClientRect();
    if (box.right > width + 1 || box.left < -1) out.wide.push([i, box.left, box.right]);
    const texts = [...chart.querySelectorAll('text.annotation-text')]
      .map(t => [t.textContent, t.getBoundingClientRect()]).filter(([s, r]) => s && r.width);
    const titles = [...chart.querySelectorAll('text.annotation-text, text.gtitle')]
      .map(t => [t.textContent, t.getBoundingClientRect()]).filter(([s, r]) => s && r.width);
    for (const [s, r] of titles)  // a title running past the figure's edge is cut there
      if (r.right > box.right + 1 || r.left < box.left - 1) out.cut.push([i, s]);
    for (let a = 0; a < texts.length; a++)
      for (let b = a + 1; b < texts.length; b++)
        if (hit(texts[a][1], texts[b][1])) out.overlaps.push([i, texts[a][0], texts[b][0]]);
    const gd = chart.querySelector('.js-plotly-plot');
    const full = gd && gd._fullLayout;
    if (!full) return;
    const ys = Object.keys(full).filter(k => /^yaxis\\d*$/.test(k)).map(k => full[k]._length);
    const x = full.xaxis;
    const cell = x && x.range ? x._length / Math.abs(x.range[1] - x.range[0]) : null;
    const words = [full.title && full.title.text, ...(full.annotations || []).map(a => a.text)];
    out.charts.push({i, fill: ys.reduce((s, v) => s + v, 0) / full.height, cell,
                     heatmap: gd.data.some(t => t.type === 'heatmap'),
                     texts: words.filter(Boolean).join(' | ')});
  });
  document.querySelectorAll('.katex-display, .katex').forEach(k => {
    const r = k.getBoundingClientRect();
    if (k.scrollWidth > k.clientWidth + 4 || r.right > width + 1)  // KaTeX overhangs 2 px
      out.formulas.push([k.textContent.slice(0, 40), k.scrollWidth, k.clientWidth, r.right]);
  });
  return out;
}"""


def laid_out_for_the_phone(page, ok, timeout_s: float = 40) -> dict:
    """The page measured once ``ok(measured)`` holds or after ``timeout_s`` (the phone reports
    its width after the first run; the figures are built again in the run that follows)."""
    waited = 0.0
    while True:
        settle(page)
        seen = page.evaluate(MEASURE)
        if ok(seen) or waited > timeout_s:
            return seen
        page.wait_for_timeout(1000)
        waited += 2.0


def fits(seen: dict) -> bool:
    problems = seen["wide"] or seen["overlaps"] or seen["cut"] or seen["formulas"]
    return bool(seen["charts"]) and not problems


def translated(text: str, lang: str) -> str:
    i18n.set_language(lang)
    try:
        return i18n._(text)
    finally:
        i18n.set_language("en")


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize(
    ("path", "button"),
    [
        ("convolution", None),
        ("pooling", None),
        ("why_convolution", None),
        ("softmax_backprop", "Random MNIST test digit"),
        ("draw_predict", "Random MNIST test digit"),
        ("train_live", "Start"),  # the quick demo: curves, filters, maps, then the results
    ],
)
@pytest.mark.parametrize("lang", ["en", "vi"])  # Vietnamese titles are often longer
def test_figures_fit_a_phone(app_server, phone, artifacts, path, button, lang):
    phone.goto(f"{app_server}/{path}?lang={lang}")
    settle(phone)
    if button:
        phone.get_by_role("button", name=translated(button, lang)).first.click()
    if path == "train_live":  # measured once the run is over and its results are drawn
        # (the Keras-style epoch log says so, in English in both languages)
        phone.get_by_text("Training finished").first.wait_for(timeout=120_000)
    seen = laid_out_for_the_phone(phone, fits)
    phone.screenshot(path=str(artifacts / f"phone-{path}-{lang}.png"), full_page=True)
    assert seen["width"] == PHONE["width"]
    assert seen["charts"], "no chart drawn"
    assert not seen["wide"], f"charts wider than the phone: {seen['wide']}"
    assert not seen["overlaps"], f"titles on top of each other: {seen['overlaps']}"
    assert not seen["cut"], f"titles cut at the figure's edge: {seen['cut']}"
    assert not seen["formulas"], f"formulas cut: {seen['formulas']}"


@pytest.mark.parametrize("path", ["draw_predict", "train_live"])
def test_feature_maps_on_a_phone_are_large_and_fill_their_figure(
    app_server, phone, artifacts, path
):
    """Draw & predict after a random digit, Train live after the quick demo: conv2d's 26 x 26
    maps at least 50 px wide (they were 27-30 px: eight a row in a figure built for 880-1100
    px), filling most of their figure's height."""
    phone.goto(f"{app_server}/{path}")
    settle(phone)
    if path == "draw_predict":
        phone.get_by_role("button", name="Random MNIST test digit").first.click()
    else:
        phone.get_by_role("button", name="Start").first.click()
        phone.get_by_text("Training finished").first.wait_for(timeout=120_000)

    def maps(seen):  # the figures of conv2d's 26 x 26 feature maps
        return [c for c in seen["charts"] if c["heatmap"] and c["cell"] and "26 x 26" in c["texts"]]

    def big(seen):
        return bool(maps(seen)) and all(c["cell"] * 26 >= 50 for c in maps(seen))

    seen = laid_out_for_the_phone(phone, big)
    phone.screenshot(path=str(artifacts / f"phone-feature-maps-{path}.png"), full_page=True)
    charts = maps(seen)
    assert charts, f"no feature-map figure: {seen['charts']}"
    for chart in charts:
        tile = chart["cell"] * 26  # conv2d's 26 x 26 maps, the first band
        assert tile >= 50, f"feature maps {tile:.0f} px wide on a 390 px phone"
        assert chart["fill"] >= 0.6, f"the maps fill {chart['fill']:.0%} of their figure"
