// MathJax 3 for pymdownx.arithmatex (generic mode): typeset only the spans it marks. The
// script itself (tex-svg-full.js) is served by the site (copied from the django-static-mathjax
// wheel at build time), so no formula depends on a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    enableMenu: false,
  },
  svg: { fontCache: "global" },
};
