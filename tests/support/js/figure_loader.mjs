// Runs renderrush.ui.figure's page-side loader with fake anywidget models and a fake plotly
// module (node tests/support/js/figure_loader.mjs LOADER.mjs); prints what happened as JSON for
// tests/unit/ui/test_figure.py. Blob URLs cannot be imported in Node: they become data: URLs here.
import { readFileSync } from "node:fs";

const calls = { getModel: 0, objectUrls: 0, failNext: false };
globalThis.Blob = class { constructor(parts) { this.text = parts.join(""); } };
URL.createObjectURL = (blob) => {
  calls.objectUrls += 1;
  return "data:text/javascript;base64," + Buffer.from(blob.text).toString("base64");
};
URL.revokeObjectURL = () => {};
const plotlyFake = `export default () => { let own; return {
  initialize({ model }) { own = model; model.started = (model.started ?? 0) + 1; },
  render({ el }) { el.drawnWith = own; return () => {}; } }; };`;
const manager = {
  async get_model(id) {
    calls.getModel += 1;
    if (calls.failNext) { calls.failNext = false; throw new Error("no carrier"); }
    if (id !== "carrier1") throw new Error(`asked for ${id}`);
    return { get: (name) => (name === "source" ? plotlyFake : undefined) };
  },
};
const makeModel = () => ({ get: (name) => (name === "_plotly_bundle" ? "IPY_MODEL_carrier1" : undefined), widget_manager: manager });
const source = readFileSync(process.argv[2], "utf8");
const loader = (await import("data:text/javascript;base64," + Buffer.from(source).toString("base64"))).default;
const figure = () => { const model = makeModel(), widget = loader(); widget.initialize({ model }); return { model, widget }; };
const result = {};

// A page restores two figures, then draws three views (two of one figure) at once.
const a = figure(), b = figure();
result.startedBeforeLoad = [a.model.started ?? 0, b.model.started ?? 0];
const els = [{}, {}, {}];
await Promise.all([a.widget.render({ el: els[0] }), b.widget.render({ el: els[1] }), b.widget.render({ el: els[2] })]);
result.started = [a.model.started, b.model.started];
result.drawnWithOwnModel = [els[0].drawnWith === a.model, els[1].drawnWith === b.model, els[2].drawnWith === b.model];
result.loads = { getModel: calls.getModel, objectUrls: calls.objectUrls };
// A figure made after the module loaded starts at once (it misses no change).
const c = figure();
result.startedAtInitialize = c.model.started ?? 0;

// A new page whose carrier cannot be fetched: the view fails, the next one retries.
for (const key of Object.getOwnPropertySymbols(globalThis)) {
  if (key.description?.startsWith("renderrush.plotly-widget")) delete globalThis[key];
}
const d = figure();
calls.failNext = true;
try { await d.widget.render({ el: {} }); } catch (error) { result.firstError = String(error); }
const el = {};
await d.widget.render({ el });
result.retried = el.drawnWith === d.model && d.model.started === 1;
console.log(JSON.stringify(result));
