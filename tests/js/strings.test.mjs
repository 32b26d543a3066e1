// The explorer's words in both editions (docs/_static/explorer/strings.js, and the figure dialog's
// table in docs/_static/figures.js): every key has an English and a Chinese text with the same
// {placeholders}; every key a widget asks for exists; t() fills placeholders and picks the language.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { STRINGS, placeholders, t, language } from "../../docs/_static/explorer/strings.js";

const STATIC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "_static");
const HAN = /\p{Script=Han}/u;

/** Both languages, same placeholders, the Chinese really Chinese and the English really not. */
function checkTable(name, table) {
  const keys = Object.keys(table);
  assert.ok(keys.length > 0, `${name}: no strings`);
  for (const key of keys) {
    const entry = table[key];
    assert.deepEqual(Object.keys(entry).sort(), ["en", "zh"], `${name} ${key}: needs exactly en and zh`);
    for (const lang of ["en", "zh"]) {
      assert.equal(typeof entry[lang], "string", `${name} ${key}.${lang}`);
      assert.ok(entry[lang].trim().length > 0, `${name} ${key}.${lang} is empty`);
    }
    assert.deepEqual(placeholders(entry.zh), placeholders(entry.en), `${name} ${key}: placeholders differ`);
    assert.ok(!HAN.test(entry.en), `${name} ${key}: Chinese in the English text`);
    // Every Chinese text has Chinese in it, except the ones that are only a name or a formula.
    const words = entry.zh.replace(/\{\w+\}/g, "");
    assert.ok(HAN.test(words), `${name} ${key}: no Chinese in ${JSON.stringify(entry.zh)}`);
  }
}

test("strings.js: every key has both languages with the same placeholders", () => {
  checkTable("strings.js", STRINGS);
});

test("figures.js: the figure dialog's words have both languages with the same placeholders", () => {
  const source = readFileSync(join(STATIC, "figures.js"), "utf8");
  for (const lang of ["en", "zh-Hant-TW"]) {
    const window = { addEventListener() {} };
    const document = {
      readyState: "complete",
      documentElement: { lang },
      querySelector: () => null,
      querySelectorAll: () => [],
      addEventListener() {},
    };
    vm.runInNewContext(source, { window, document, setTimeout, clearTimeout });
    const figures = window.convopsFigures;
    checkTable("figures.js", figures.strings);
    const zoom = figures.t("zoomIn");
    assert.equal(zoom, lang === "en" ? "Zoom in" : "放大");
    assert.equal(figures.t("enlargeNamed", { alt: "x" }), lang === "en" ? "Enlarge figure: x" : "放大圖片：x");
  }
});

test("every key the widgets ask for exists", () => {
  const dir = join(STATIC, "explorer");
  const used = new Set();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") && f !== "strings.js")) {
    const source = readFileSync(join(dir, file), "utf8");
    for (const m of source.matchAll(/\bt\(\s*"([^"]+)"/g)) used.add(m[1]);
    // keys built from a template: `digit.layer${i}` -> every digit.layer<n> must exist for 0..4
    for (const m of source.matchAll(/\bt\(\s*`([\w.]+)\$\{/g)) used.add(m[1] + "*");
  }
  assert.ok(used.size > 50, `only ${used.size} keys found: is the pattern stale?`);
  for (const key of used) {
    if (key.endsWith("*")) {
      const prefix = key.slice(0, -1);
      assert.ok(Object.keys(STRINGS).some((k) => k.startsWith(prefix)), `no key starts with ${prefix}`);
    } else {
      assert.ok(key in STRINGS, `a widget asks for ${key}, which strings.js lacks`);
    }
  }
  // ternaries: t(cond ? "a" : "b")
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".js"))) {
    const source = readFileSync(join(dir, file), "utf8");
    for (const m of source.matchAll(/\bt\([^()"]*\?\s*"([^"]+)"\s*:\s*"([^"]+)"/g)) {
      assert.ok(m[1] in STRINGS && m[2] in STRINGS, `${file}: ${m[0]}`);
    }
  }
  for (const i of [0, 1, 2, 3, 4]) {
    assert.ok(`digit.layer${i}` in STRINGS && `digit.short${i}` in STRINGS);
  }
  for (const mode of ["VALID", "CONSTANT", "MEAN", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR"]) {
    assert.ok(`fl.mode.${mode}` in STRINGS);
  }
});

test("t() fills placeholders, in the language asked for or the page's", () => {
  assert.equal(language(), "en"); // no document in Node: English
  assert.equal(t("cp.accepts", { from: 7, to: 8, n: 8 }), "conv2d_transpose accepts n = 7 to 8; shown: n = 8");
  assert.equal(t("cp.accepts", { from: 7, to: 8, n: 8 }, "zh"), "conv2d_transpose 接受 n = 7 到 8；顯示：n = 8");
  assert.equal(t("digit.option", { label: 7, n: 1, count: 40 }, "zh"), "7（測試數字 1／40）");
  // numbers and formulas pass through unchanged
  const same = t("cp.same", { i: 7, s: 2, o: 4, total: 2, pb: 1, pa: 1, before: "上／左", after: "下／右", odd: "" }, "zh");
  assert.ok(same.includes("ceil(7 / 2) = 4"), same);
  globalThis.document = { documentElement: { lang: "zh-Hant-TW" } };
  try {
    assert.equal(language(), "zh");
    assert.equal(t("cp.play"), "播放");
  } finally {
    delete globalThis.document;
  }
});

test("an unknown key or a missing value is reported, not thrown", () => {
  const logged = [];
  const original = console.error;
  console.error = (message) => logged.push(message);
  try {
    assert.equal(t("no.such.key"), "no.such.key");
    assert.equal(t("fl.reluCaption", {}), "After ReLU, {n} × {n}");
  } finally {
    console.error = original;
  }
  assert.equal(logged.length, 3); // the key, then {n} twice
});
