// render.mjs FILE.md: writes FILE.md as HTML, rendered as GitHub renders a
// README: GitHub-flavoured Markdown (marked) in GitHub's own styles
// (github-markdown-css), in a column as wide as GitHub's README column.
// slides/browser_test.go opens the result in Chromium and fails when
// anything in it scrolls sideways.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { marked } from "marked";

const require = createRequire(import.meta.url);
const css = readFileSync(require.resolve("github-markdown-css/github-markdown-light.css"), "utf8");
const file = process.argv[2];
if (!file) {
  console.error("usage: node render.mjs FILE.md");
  process.exit(2);
}
const body = marked.parse(readFileSync(file, "utf8"), { gfm: true });

// GitHub's README column is 888px of text inside 45px of padding, as the
// CSS's own README suggests for a page of its own.
process.stdout.write(`<!doctype html>
<html><head><meta charset="utf-8"><title>${file}</title>
<style>${css}
.markdown-body { box-sizing: border-box; width: 978px; margin: 0 auto; padding: 45px; }
</style></head>
<body><article class="markdown-body">
${body}
</article></body></html>
`);
