/* convops docs: figures that enlarge, and search results without TeX.
 *
 * 1. Every build-time figure (img.plot-directive) becomes a link to its own SVG (an animation's
 *    frame too: the dialog shows the frame on screen when clicked); a click (or
 *    Enter) opens it in a modal <dialog> over the page instead: fitted to the screen, with a
 *    "Zoom" button (and + / - keys) to see it at twice that size and pan, and "Open alone" for the
 *    browser's own zoom. Esc, the Close button or a click outside the figure close it, and the
 *    focus goes back to the figure. Without JavaScript the link still opens the SVG.
 * 2. Sphinx's search shows a snippet of each page's text, where formulas are still TeX source
 *    (MathJax typesets them only on the page itself): "\(k_{\text{eff}} = (k - 1)\cdot d + 1\)".
 *    Search.htmlToText is wrapped so that snippets read "k_eff = (k - 1)·d + 1" (and do not begin
 *    with the language switcher's "English · 繁體中文").
 * 3. An inline formula wider than its line (MathJax does not break lines) gets the class
 *    math-wide, which makes it scroll inside the column instead of widening the page.
 * 4. Every scroller that overflows (tables, code, formulas) is wrapped in .scroll-shadow, which
 *    shades the side that has more to see, and can take the keyboard focus to be scrolled.
 *
 * Nothing here loads anything: the dialog shows the image the page already has. Its words are in
 * the page's language (<html lang>: "zh-Hant-TW" in the Chinese edition), from STRINGS below
 * (tests/js/strings.test.mjs checks that each has both languages).
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------------------------------
  // 0. words, in both editions of the site
  const STRINGS = {
    dialog: { en: "Enlarged figure", zh: "放大的圖" },
    zoomIn: { en: "Zoom in", zh: "放大" },
    fit: { en: "Fit to screen", zh: "符合螢幕大小" },
    alone: { en: "Open alone", zh: "單獨開啟" },
    close: { en: "Close", zh: "關閉" },
    enlarge: { en: "Enlarge figure", zh: "放大圖片" },
    enlargeNamed: { en: "Enlarge figure: {alt}", zh: "放大圖片：{alt}" },
    clickToEnlarge: { en: "Click to enlarge", zh: "點一下即可放大" },
  };
  const LANGUAGE = /^zh/i.test(document.documentElement.lang || "") ? "zh" : "en";

  function t(key, values) {
    return STRINGS[key][LANGUAGE].replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? values[name] : whole));
  }

  // ------------------------------------------------------------------------------------------
  // 1. click to enlarge
  let dialog = null;
  let trigger = null;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "figure-zoom-dialog";
    dialog.setAttribute("aria-label", t("dialog"));
    dialog.innerHTML =
      '<div class="figure-zoom-bar">' +
      '<button type="button" class="figure-zoom-toggle" aria-pressed="false">' + t("zoomIn") + "</button>" +
      '<a class="figure-zoom-alone" target="_blank" rel="noopener">' + t("alone") + "</a>" +
      '<button type="button" class="figure-zoom-close">' + t("close") + ' <span aria-hidden="true">✕</span></button>' +
      "</div>" +
      '<div class="figure-zoom-view" tabindex="0"><img alt=""></div>' +
      '<p class="figure-zoom-alt"></p>';
    document.body.appendChild(dialog);
    const close = dialog.querySelector(".figure-zoom-close");
    const toggle = dialog.querySelector(".figure-zoom-toggle");
    close.addEventListener("click", () => dialog.close());
    toggle.addEventListener("click", () => zoom(toggle.getAttribute("aria-pressed") !== "true"));
    dialog.addEventListener("click", (event) => {
      // a click on the backdrop (outside the dialog's box) closes it
      const box = dialog.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right &&
                     event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close();
    });
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "+" || event.key === "=") { zoom(true); event.preventDefault(); }
      if (event.key === "-" || event.key === "_") { zoom(false); event.preventDefault(); }
    });
    dialog.addEventListener("close", () => {
      document.documentElement.classList.remove("figure-zoom-open");
      if (trigger) trigger.focus();
    });
    window.addEventListener("resize", () => { if (dialog.open) fit(); });
  }

  // The fitted width: the whole figure on the screen (width and height), never below the width
  // it has on the page.
  function fitWidth(img) {
    const view = dialog.querySelector(".figure-zoom-view");
    const ratio = (img.naturalWidth && img.naturalHeight) ? img.naturalWidth / img.naturalHeight : 1.5;
    const room = view.clientWidth - 16;
    // the view's height less its padding (8 px each side) and the card's (6 px each side)
    const tall = Math.max(view.clientHeight - 28, 150) * ratio;
    return Math.max(Math.min(room, tall), Math.min(room, trigger ? trigger.clientWidth : room));
  }

  function fit() {
    const img = dialog.querySelector(".figure-zoom-view img");
    const zoomed = dialog.querySelector(".figure-zoom-toggle").getAttribute("aria-pressed") === "true";
    const width = fitWidth(img);
    // zoomed: twice the fitted width, and at least 900 px (a phone pans across it)
    img.style.width = (zoomed ? Math.max(2 * width, 900) : width) + "px";
  }

  function zoom(on) {
    const toggle = dialog.querySelector(".figure-zoom-toggle");
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? t("fit") : t("zoomIn");
    fit();
  }

  function open(link, img) {
    if (!dialog) build();
    trigger = link;
    const big = dialog.querySelector(".figure-zoom-view img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "";
    dialog.querySelector(".figure-zoom-alt").textContent = img.alt || "";
    dialog.querySelector(".figure-zoom-alone").href = img.currentSrc || link.href;  // a player's current frame
    document.documentElement.classList.add("figure-zoom-open");
    dialog.showModal();
    zoom(false);
    if (!big.complete) big.addEventListener("load", fit, { once: true });
    dialog.querySelector(".figure-zoom-close").focus();
  }

  function enhance(img) {
    if (img.closest("a, .figure-zoom-dialog")) return;
    const link = document.createElement("a");
    link.className = "figure-zoom";
    link.href = img.getAttribute("src");
    link.setAttribute("aria-label", img.alt ? t("enlargeNamed", { alt: img.alt }) : t("enlarge"));
    link.title = t("clickToEnlarge");
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;  // new tab
      if (typeof HTMLDialogElement === "undefined") return;  // very old browser: follow the link
      event.preventDefault();
      open(link, img);
    });
  }

  // ------------------------------------------------------------------------------------------
  // 2. TeX in search snippets
  const SYMBOLS = {
    cdot: "·", times: "×", div: "÷", pm: "±", mp: "∓", ast: "∗", star: "⋆", circ: "∘",
    lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉", langle: "⟨", rangle: "⟩",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", equiv: "≡", sim: "∼",
    to: "→", rightarrow: "→", leftarrow: "←", Rightarrow: "⇒", mapsto: "↦", infty: "∞",
    sum: "Σ", prod: "Π", partial: "∂", nabla: "∇", in: "∈", notin: "∉", forall: "∀", exists: "∃",
    ldots: "…", dots: "…", cdots: "⋯", vdots: "⋮", lvert: "|", rvert: "|", mid: "|",
    odot: "⊙", otimes: "⊗", oplus: "⊕", top: "ᵀ", prime: "′",
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ",
    sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    max: "max", min: "min", log: "log", exp: "exp", sqrt: "√", operatorname: "",
    quad: " ", qquad: " ", left: "", right: "", big: "", Big: "", bigg: "", Bigg: "",
    displaystyle: "", textstyle: "", limits: "", nolimits: "", begin: "", end: "",
  };

  function texToText(tex) {
    let s = tex;
    // escaped characters; braces kept apart until the grouping braces are gone
    s = s.replace(/\\([{}%#&$_])/g, (m, c) => (c === "{" ? "\uE000" : c === "}" ? "\uE001" : c));
    s = s.replace(/\\(?:begin|end)\s*\{[^{}]*\}/g, " ");                       // environments
    for (let i = 0; i < 3; i++) {                                               // nested groups
      s = s.replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, (m, a, b) => {
        const wrap = (t) => /^[\w.]+$/.test(t.trim()) ? t.trim() : "(" + t.trim() + ")";
        return wrap(a) + "/" + wrap(b);
      });
      s = s.replace(/\\(?:text|textrm|textit|textbf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathbb|boldsymbol|bm|operatorname\*?)\s*\{([^{}]*)\}/g, "$1");
      s = s.replace(/\\sqrt\s*\{([^{}]*)\}/g, "√($1)");
      s = s.replace(/([_^])\{([^{}]*)\}/g, (m, op, body) => op + (/^\w*$/.test(body) ? body : "(" + body + ")"));
    }
    s = s.replace(/\\([A-Za-z]+)\*?/g, (m, name) => (name in SYMBOLS ? SYMBOLS[name] : name));
    s = s.replace(/\\[,;:! ]/g, " ").replace(/\\\\/g, "; ").replace(/&/g, " ");
    s = s.replace(/[{}]/g, "").replace(/\uE000/g, "{").replace(/\uE001/g, "}");
    return s.replace(/\s+/g, " ").replace(/ ?([·×]) ?/g, "$1").trim();
  }

  function stripTeX(text) {
    return text
      .replace(/\\\(([\s\S]*?)\\\)/g, (m, tex) => texToText(tex))
      .replace(/\\\[([\s\S]*?)\\\]/g, (m, tex) => " " + texToText(tex) + " ");
  }

  function patchSearch() {
    // `Search` is searchtools.js's global (a top-level const: visible here by name, not on window)
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.convopsPatched) return;
    const original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      // The language switcher at the top of every article is not the page's text.
      const withoutSwitcher = htmlString.replace(/<nav class="language-switcher"[\s\S]*?<\/nav>/g, "");
      return stripTeX(original.call(this, withoutSwitcher, anchor));
    };
    Search.htmlToText.convopsPatched = true;
  }

  // ------------------------------------------------------------------------------------------
  // 3. inline formulas wider than their line scroll (CSS: mjx-container.math-wide)
  function markWideMath() {
    document.querySelectorAll('article[role="main"] mjx-container:not([display="true"])').forEach((m) => {
      m.classList.remove("math-wide");
      const box = m.parentElement && m.parentElement.closest("p, li, dd, td, div");
      if (box && m.getBoundingClientRect().width > box.clientWidth) m.classList.add("math-wide");
    });
  }

  function watchMath(tries) {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(() => { markWideMath(); shadows(); });
      let timer = null;
      window.addEventListener("resize", () => {
        clearTimeout(timer);
        timer = setTimeout(() => { markWideMath(); shadows(); }, 150);
      });
    } else if (document.querySelector(".math") && (tries || 0) < 50) {
      setTimeout(() => watchMath((tries || 0) + 1), 200);   // MathJax not loaded yet
    }
  }

  // ------------------------------------------------------------------------------------------
  // 4. scrollers that overflow (wide tables, long code lines, long formulas) show it: a shadow on
  //    the side with more to see (CSS: .scroll-shadow), and keyboard focus to scroll them
  const SCROLLERS = 'article[role="main"] .table-wrapper, article[role="main"] .highlight pre, ' +
                    'article[role="main"] mjx-container[display="true"], article[role="main"] mjx-container.math-wide';

  function edges(el, box) {
    box.classList.toggle("more-left", el.scrollLeft > 1);
    box.classList.toggle("more-right", el.scrollLeft + el.clientWidth < el.scrollWidth - 1);
  }

  function shadows() {
    document.querySelectorAll(SCROLLERS).forEach((el) => {
      let box = el.parentElement;
      const wrapped = box && box.classList.contains("scroll-shadow");
      if (!wrapped) {
        if (el.scrollWidth <= el.clientWidth + 1) return;
        box = document.createElement(el.tagName === "MJX-CONTAINER" && !el.hasAttribute("display") ? "span" : "div");
        box.className = "scroll-shadow";
        el.parentNode.insertBefore(box, el);
        box.appendChild(el);
        el.addEventListener("scroll", () => edges(el, box), { passive: true });
        if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
      }
      edges(el, box);
    });
  }

  // for the browser test of the site
  window.convopsFigures = { texToText: texToText, stripTeX: stripTeX, strings: STRINGS, t: t };

  function ready() {
    // figures, and the frame an animation shows (a phone scales frames down: enlarge the current one)
    document.querySelectorAll("img.plot-directive, img.convops-player-frame").forEach(enhance);
    patchSearch();
    shadows();
    if (!document.querySelector(".math")) {
      let timer = null;
      window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(shadows, 150); });
    }
    watchMath(0);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
