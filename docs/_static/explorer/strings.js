/* The explorer's words, in both editions of the site: English and Traditional Chinese (zh_TW).
 *
 * Everything the widgets write at run time (status lines, messages, captions, labels, the words
 * around a formula) comes from here: t(key, values) picks the page's language from <html lang>
 * ("zh-Hant-TW" in the Chinese edition, docs/_ext/i18n.py) and fills in its {placeholders}.
 * Numbers and formulas are the caller's, unchanged. The Chinese uses the site's term list
 * (docs/locales/zh_TW/terms.tsv). The text that is in the pages' HTML is translated by the pages'
 * catalogues (docs/locales/zh_TW/LC_MESSAGES/explorer/*.po); where a widget writes the same text
 * again (a caption, a button it toggles), the two must agree.
 *
 * tests/js/strings.test.mjs checks that every key has both languages with the same placeholders,
 * and that every key the widgets use exists.
 */

export const STRINGS = {
  /* ------------------------------------------------------------ shared */
  "digit.option": {
    en: "{label} (test digit {n} of {count})",
    zh: "{label}（測試數字 {n}／{count}）",
  },

  /* ------------------------------------------------------------ playground.js */
  "cp.refused": { en: "This geometry is refused: {error}", zh: "這組幾何設定被拒絕：{error}" },
  "cp.poolRefused": {
    en:
      "convops.max_pool2d refuses this padding: explicit padding must be smaller than the window on " +
      "each side (as in TensorFlow: a window may never lie entirely in the padding). The formula alone " +
      "gives the size shown.",
    zh:
      "convops.max_pool2d 拒絕這種填充：每一側的明確填充都必須小於視窗（與 TensorFlow 相同：視窗絕不能" +
      "完全落在填充裡）。顯示的大小只是公式算出來的。",
  },
  "cp.empty": {
    en:
      "The window ({kEff} wide) is larger than the padded input ({rows} × {cols}): the output is empty " +
      "(0 rows or columns), which is what convops returns.",
    zh: "視窗（寬 {kEff}）比填充後的輸入（{rows} × {cols}）還大：輸出是空的（0 列或 0 行），convops 回傳的也是如此。",
  },
  "cp.noTransposedSize": {
    en:
      "No output size works: with this padding every convolution of this kernel and stride maps " +
      "to another input size, so convops.conv2d_transpose refuses every output size. Shown empty.",
    zh:
      "沒有可行的輸出大小：在這種填充下，用這個卷積核與步幅的卷積都會對應到別的輸入大小，" +
      "所以 convops.conv2d_transpose 拒絕每一個輸出大小。以空的輸出顯示。",
  },
  "cp.same": {
    en: "SAME: o = ceil(i / s) = ceil({i} / {s}) = {o}; padding {total} = {pb} {before} + {pa} {after}{odd}",
    zh: "SAME：o = ceil(i / s) = ceil({i} / {s}) = {o}；填充 {total} = {before} {pb} + {after} {pa}{odd}",
  },
  "cp.oddPixel": {
    en: " (the odd pixel goes to the {side}, as in TensorFlow)",
    zh: "（多出的一個像素放在{side}，與 TensorFlow 相同）",
  },
  "cp.noFit": {
    en: "o = 0: i + p_before + p_after = {n} < k_eff = {kEff}, the window does not fit",
    zh: "o = 0：i + p_before + p_after = {n} < k_eff = {kEff}，視窗放不下",
  },
  "cp.transposedSame": {
    en: "n with ceil(n / s) = i: from (i − 1)·s + 1 = {from} to i·s = {to}",
    zh: "滿足 ceil(n / s) = i 的 n：從 (i − 1)·s + 1 = {from} 到 i·s = {to}",
  },
  "cp.transposedValid": {
    en: "n with floor((n + p − k_eff) / s) + 1 = i: from (i − 1)·s + k_eff − p = {from} to i·s − 1 + k_eff − p = {to}",
    zh: "滿足 floor((n + p − k_eff) / s) + 1 = i 的 n：從 (i − 1)·s + k_eff − p = {from} 到 i·s − 1 + k_eff − p = {to}",
  },
  "cp.accepts": {
    en: "conv2d_transpose accepts n = {from} to {to}; shown: n = {n}",
    zh: "conv2d_transpose 接受 n = {from} 到 {to}；顯示：n = {n}",
  },
  "cp.acceptsNone": {
    en: "conv2d_transpose accepts no n: the output is empty",
    zh: "conv2d_transpose 不接受任何 n：輸出是空的",
  },
  "cp.rowsAndColumns": { en: "rows and columns:", zh: "列與行：" },
  "cp.rows": { en: "rows:", zh: "列：" },
  "cp.columns": { en: "columns:", zh: "行：" },
  "cp.topLeft": { en: "top/left", zh: "上／左" },
  "cp.bottomRight": { en: "bottom/right", zh: "下／右" },
  "cp.top": { en: "top", zh: "上" },
  "cp.bottom": { en: "bottom", zh: "下" },
  "cp.left": { en: "left", zh: "左" },
  "cp.right": { en: "right", zh: "右" },
  "cp.window": {
    en: "the window covers rows {top} to {bottom} and columns {left} to {right} of the padded grid",
    zh: "視窗涵蓋填充後網格的第 {top} 到 {bottom} 列、第 {left} 到 {right} 行",
  },
  "cp.inputLabel": { en: "Padded input, {rows} by {cols} cells.", zh: "填充後的輸入，{rows} × {cols} 格。" },
  "cp.inputLabelAt": {
    en: "Padded input, {rows} by {cols} cells; {window}.",
    zh: "填充後的輸入，{rows} × {cols} 格；{window}。",
  },
  "cp.outputEmpty": { en: "Output: empty ({rows} × {cols})", zh: "輸出：空的（{rows} × {cols}）" },
  "cp.outputCaption": { en: "Output (green), current cell outlined", zh: "輸出（綠色），目前的格子加上外框" },
  "cp.outputLabel": { en: "Output, {rows} by {cols}.", zh: "輸出，{rows} × {cols}。" },
  "cp.outputLabelAt": {
    en: "Output, {rows} by {cols}; the current cell is row {row}, column {col}.",
    zh: "輸出，{rows} × {cols}；目前的格子在第 {row} 列、第 {col} 行。",
  },
  "cp.position": {
    en: "output row {row}, column {col} ({n} / {count}): {window}",
    zh: "輸出第 {row} 列、第 {col} 行（{n} / {count}）：{window}",
  },
  "cp.noPosition": { en: "no output position", zh: "沒有輸出位置" },
  "cp.play": { en: "Play", zh: "播放" },
  "cp.pause": { en: "Pause", zh: "暫停" },
  "cp.playButton": { en: "▶ play", zh: "▶ 播放" },
  "cp.pauseButton": { en: "❚❚ pause", zh: "❚❚ 暫停" },

  /* ------------------------------------------------------------ digit.js */
  "digit.layer0": { en: "Conv 1: 3×3 kernels, 32 feature maps, ReLU", zh: "卷積層 1：3×3 卷積核，32 張特徵圖，ReLU" },
  "digit.layer1": { en: "Max-pool 1: 2×2, stride 2", zh: "最大池化 1：2×2，步幅 2" },
  "digit.layer2": { en: "Conv 2: 3×3×32 kernels, 64 feature maps, ReLU", zh: "卷積層 2：3×3×32 卷積核，64 張特徵圖，ReLU" },
  "digit.layer3": { en: "Max-pool 2: 2×2, stride 2", zh: "最大池化 2：2×2，步幅 2" },
  "digit.layer4": { en: "Conv 3: 3×3×64 kernels, 128 feature maps, ReLU", zh: "卷積層 3：3×3×64 卷積核，128 張特徵圖，ReLU" },
  "digit.short0": { en: "conv 1", zh: "卷積層 1" },
  "digit.short1": { en: "max-pool 1", zh: "最大池化 1" },
  "digit.short2": { en: "conv 2", zh: "卷積層 2" },
  "digit.short3": { en: "max-pool 2", zh: "最大池化 2" },
  "digit.short4": { en: "conv 3", zh: "卷積層 3" },
  "digit.mapsHelp": {
    en: "Arrow keys move the selected unit; [ and ] change the feature map.",
    zh: "方向鍵移動選取的單元；[ 與 ] 切換特徵圖。",
  },
  "digit.mapTitle": { en: "{layer}, feature map {n}", zh: "{layer}，特徵圖 {n}" },
  "digit.barLabel": { en: "{digit}: {percent} percent", zh: "{digit}：百分之 {percent}" },
  "digit.bundled": {
    en: "A bundled MNIST test digit: already 20×20 in 28×28, centred by its centre of mass.",
    zh: "內附的 MNIST 測試數字：已經是 28×28 中的 20×20，並依質心置中。",
  },
  "digit.geometry": {
    en:
      "Bounding box {h}×{w} px → {sh}×{sw}, placed at row {top}, column {left} so that its centre of " +
      "mass is at the centre.",
    zh: "邊界框 {h}×{w} px → {sh}×{sw}，放在第 {top} 列、第 {left} 行，讓質心落在中央。",
  },
  "digit.empty": {
    en:
      "Nothing drawn yet: draw a digit in the box, or load one of MNIST's test digits. The network " +
      "needs some ink to read.",
    zh: "還沒有畫任何東西：在方框裡畫一個數字，或載入一個 MNIST 測試數字。網路要有筆跡才能判讀。",
  },
  "digit.readsTest": {
    en: "MNIST test digit labelled {label}: the network reads a {predicted} ({percent} %).",
    zh: "標籤為 {label} 的 MNIST 測試數字：網路判讀為 {predicted}（{percent} %）。",
  },
  "digit.reads": {
    en: "The network reads a {predicted} ({percent} %).",
    zh: "網路判讀為 {predicted}（{percent} %）。",
  },
  "digit.timing": {
    en: "Last update: {ms} ms (pre-processing, the network's forward pass and drawing every map).",
    zh: "上次更新：{ms} ms（前處理、網路的前向傳遞與繪製每一張特徵圖）。",
  },
  "digit.products": { en: "Each pixel of the window times its weight", zh: "視窗的每個像素乘以它的權重" },
  "digit.kernelTiles": {
    en: "The {cin} 3 by 3 slices of this map's kernel, one per input map; orange positive, blue negative",
    zh: "這張特徵圖的卷積核的 {cin} 個 3×3 切片，每張輸入特徵圖一個；橘色為正，藍色為負",
  },
  "digit.contribution": { en: "map {n} of {layer}: {value}", zh: "{layer} 的第 {n} 張特徵圖：{value}" },
  "digit.shared": {
    en: "shared by all {h}×{w} units of this map (parameter sharing)",
    zh: "這張特徵圖的全部 {h}×{w} 個單元共用它（參數共享）",
  },
  "digit.kernel1": {
    en: "Its kernel: {kh}×{kw} weights and a bias, {shared}.",
    zh: "它的卷積核：{kh}×{kw} 個權重加一個偏置，{shared}。",
  },
  "digit.kernelN": {
    en: "Its kernel: {kh}×{kw}×{cin} = {n} weights and a bias, {shared}. One {kh}×{kw} slice per input map:",
    zh: "它的卷積核：{kh}×{kw}×{cin} = {n} 個權重加一個偏置，{shared}。每張輸入特徵圖一個 {kh}×{kw} 切片：",
  },
  "digit.weighMost": {
    en: "The input maps that weigh most in its sum (each map's {k} products added up):",
    zh: "在它的總和中份量最重的輸入特徵圖（每張圖的 {k} 個乘積相加）：",
  },
  "digit.sum": {
    en: "sum of the {n} products = {sum}; + bias {bias} = {z}; ReLU: max(0, {z}) = {output}",
    zh: "{n} 個乘積的總和 = {sum}；+ 偏置 {bias} = {z}；ReLU：max(0, {z}) = {output}",
  },
  "digit.poolRows": { en: "rows {from}–{to}", zh: "第 {from}–{to} 列" },
  "digit.poolColumns": { en: "columns {from}–{to}", zh: "第 {from}–{to} 行" },
  "digit.pool": {
    en:
      "Max pooling has no weights: this unit is the largest of the {ph}×{pw} window at {rows}, {cols} " +
      "of map {n} of {layer}.",
    zh: "最大池化沒有權重：這個單元是{layer} 的第 {n} 張特徵圖上，{rows}、{cols}這個 {ph}×{pw} 視窗裡的最大值。",
  },
  "digit.noUnit": {
    en: "Draw a digit (or load one) to see what one unit computes.",
    zh: "畫一個數字（或載入一個），看看一個單元算了什麼。",
  },
  "digit.unitHead": {
    en: "{layer}, feature map {n} of {count}, unit at row {y}, column {x}: {value}",
    zh: "{layer}，特徵圖 {n}／{count}，第 {y} 列、第 {x} 行的單元：{value}",
  },
  "digit.field": {
    en:
      "Its receptive field: rows {top}–{bottom}, columns {left}–{right} of the input, {h}×{w} pixels " +
      "(outlined on the network input).",
    zh: "它的感受野：輸入的第 {top}–{bottom} 列、第 {left}–{right} 行，{h}×{w} 像素（在網路輸入上以外框標出）。",
  },
  "digit.another": {
    en: "Click another unit, or focus a layer's maps and use the arrow keys ([ and ] change the map).",
    zh: "點選另一個單元，或讓某一層的特徵圖取得焦點後使用方向鍵（[ 與 ] 切換特徵圖）。",
  },
  "digit.unverified": {
    en: "The weights' SHA-256 was not checked: this browser computes digests only on https or localhost pages.",
    zh: "權重檔的 SHA-256 沒有檢查：這個瀏覽器只在 https 或 localhost 的頁面上計算雜湊值。",
  },
  "digit.loadFailed": {
    en: "The trained network could not be loaded: {error}",
    zh: "無法載入訓練好的網路：{error}",
  },

  /* ------------------------------------------------------------ filterlab.js */
  "fl.preset.verticalEdge": { en: "Vertical edge", zh: "垂直邊緣" },
  "fl.preset.horizontalEdge": { en: "Horizontal edge", zh: "水平邊緣" },
  "fl.preset.sobelVertical": { en: "Sobel, vertical edges", zh: "Sobel，垂直邊緣" },
  "fl.preset.sobelHorizontal": { en: "Sobel, horizontal edges", zh: "Sobel，水平邊緣" },
  "fl.preset.diagonal": { en: "Diagonal ↘", zh: "對角線 ↘" },
  "fl.preset.laplacian": { en: "Laplacian", zh: "拉普拉斯" },
  "fl.preset.outline": { en: "Outline", zh: "輪廓" },
  "fl.preset.sharpen": { en: "Sharpen", zh: "銳化" },
  "fl.preset.boxBlur": { en: "Box blur", zh: "方框模糊" },
  "fl.preset.gaussianBlur": { en: "Gaussian blur", zh: "高斯模糊" },
  "fl.preset.identity": { en: "Identity", zh: "恆等" },
  "fl.preset.boxBlur5": { en: "Box blur 5 × 5", zh: "方框模糊 5 × 5" },
  "fl.preset.custom": { en: "Custom (typed)", zh: "自訂（手動輸入）" },
  "fl.mode.VALID": { en: "no padding", zh: "不填充" },
  "fl.mode.CONSTANT": { en: "zeros", zh: "補零" },
  "fl.mode.MEAN": { en: "the image's mean", zh: "影像的平均值" },
  "fl.mode.REFLECT": { en: "reflect", zh: "反射" },
  "fl.mode.SYMMETRIC": { en: "symmetric", zh: "對稱" },
  "fl.mode.EDGE": { en: "edge", zh: "邊緣複製" },
  "fl.mode.CIRCULAR": { en: "circular", zh: "循環" },
  "fl.allZero": {
    en: "Every weight is 0, so every response is 0: the maps are white.",
    zh: "每個權重都是 0，所以每個響應都是 0：各張圖都是白的。",
  },
  "fl.overflow": {
    en:
      "Some responses are beyond float32's range (±3.4 × 10³⁸) and became infinite: they are drawn " +
      "in the darkest colour and the scale shows the largest finite response. Smaller weights avoid this.",
    zh:
      "有些響應超出 float32 的範圍（±3.4 × 10³⁸），成了無限大：它們以最深的顏色繪製，色階標示的是" +
      "最大的有限響應。權重小一點就不會這樣。",
  },
  "fl.emptyMap": {
    en: "The kernel is larger than the padded input: the response map is empty, as convops returns it.",
    zh: "卷積核比填充後的輸入還大：響應圖是空的，與 convops 回傳的一樣。",
  },
  "fl.tooLarge": {
    en: "Kernel row {row}, column {col} ({value}) is beyond float32's range (±3.4 × 10³⁸): type a smaller weight to see the maps.",
    zh: "卷積核第 {row} 列第 {col} 行（{value}）超出 float32 的範圍（±3.4 × 10³⁸）：請輸入較小的權重，才能看到各張圖。",
  },
  "fl.notANumber": {
    en: "Kernel row {row}, column {col} is empty or not a number: type a number (for example 0, −1 or 0.25) to see the maps.",
    zh: "卷積核第 {row} 列第 {col} 行是空的或不是數字：請輸入一個數字（例如 0、−1 或 0.25），才能看到各張圖。",
  },
  "fl.weightLabel": { en: "Kernel weight, row {row}, column {col}", zh: "卷積核權重，第 {row} 列第 {col} 行" },
  "fl.sumZero": {
    en: "The weights sum to 0: flat regions answer 0 (a detector of changes: edges, outlines).",
    zh: "權重總和為 0：平坦區域的響應是 0（偵測變化：邊緣、輪廓）。",
  },
  "fl.sumOne": {
    en: "The weights sum to 1: flat regions keep their value (a blur or a sharpening).",
    zh: "權重總和為 1：平坦區域保持原值（模糊或銳化）。",
  },
  "fl.sumOther": {
    en: "The weights sum to {sum}: flat regions are multiplied by that.",
    zh: "權重總和為 {sum}：平坦區域會乘上這個值。",
  },
  "fl.computeFailed": { en: "The maps could not be computed: {error}", zh: "無法計算各張圖：{error}" },
  "fl.noPadding": { en: "no padding", zh: "不填充" },
  "fl.paddedTo": {
    en: "padded to {h} × {w} ({top} top, {bottom} bottom, {left} left, {right} right: {mode})",
    zh: "填充成 {h} × {w}（上 {top}、下 {bottom}、左 {left}、右 {right}：{mode}）",
  },
  "fl.inputCaption": { en: "Input 28 × 28, {padding}", zh: "輸入 28 × 28，{padding}" },
  "fl.responseCaption": { en: "Response map {n} × {n}: {formula}", zh: "響應圖 {n} × {n}：{formula}" },
  "fl.reluCaption": { en: "After ReLU, {n} × {n}", zh: "ReLU 之後，{n} × {n}" },
  "fl.inputLabel": { en: "The digit, {h} × {w} with its padding", zh: "數字連同填充，{h} × {w}" },
  "fl.responseLabel": {
    en: "The response map, {n} × {n}, values from {low} to {high} on the scale: arrow keys move the selected output",
    zh: "響應圖，{n} × {n}，色階上的值從 {low} 到 {high}：方向鍵移動選取的輸出",
  },
  "fl.reluLabel": { en: "The response map after ReLU, {n} × {n}", zh: "ReLU 之後的響應圖，{n} × {n}" },
  "fl.readout": {
    en:
      "Output row {row}, column {col}: its receptive field is rows {top}–{bottom} and columns {left}–{right} " +
      "of the padded input (outlined); the sum of window × kernel is {value}, after ReLU {relu}.",
    zh:
      "輸出第 {row} 列第 {col} 行：它的感受野是填充後輸入的第 {top}–{bottom} 列、第 {left}–{right} 行" +
      "（外框標出）；視窗 × 卷積核的總和是 {value}，ReLU 之後是 {relu}。",
  },
  "fl.badDigits": {
    en: "digits.json does not hold 28 × 28 images with one label each",
    zh: "digits.json 裝的不是各有一個標籤的 28 × 28 影像",
  },
  "fl.startFailed": { en: "The filter lab could not start: {error}", zh: "濾波實驗室無法啟動：{error}" },
};

/** "zh" on a page whose <html lang> starts with "zh" (the Chinese edition), else "en". */
export function language() {
  const lang = typeof document === "undefined" ? "" : document.documentElement.lang || "";
  return lang.toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** The {names} of a text, sorted (what both languages of a key must share). */
export function placeholders(text) {
  return Array.from(new Set(Array.from(text.matchAll(/\{(\w+)\}/g), (m) => m[1]))).sort();
}

/**
 * The text of `key` in the page's language (or `lang`), its {placeholders} filled from `values`.
 * An unknown key or a missing value is a bug of the caller: it is reported on the console (which
 * the browser tests fail on) and shown as the key or the {placeholder}, never thrown.
 */
export function t(key, values = {}, lang = language()) {
  const entry = STRINGS[key];
  if (!entry) {
    console.error(`explorer strings: no text for ${JSON.stringify(key)}`);
    return key;
  }
  return entry[lang].replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in values)) {
      console.error(`explorer strings: ${key} needs {${name}}`);
      return whole;
    }
    return String(values[name]);
  });
}
