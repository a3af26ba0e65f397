"""Go text/template for Katalog templates: compile once at load, render fast at reconcile.

Public surface (docs/architecture.md, "orkestra.template"):
`compile_template(src) -> Template` (memoised; raises TemplateSyntaxError), `Template.render`,
`Template.render_value` (the native-type rule of docs/katalog.md#templates), `is_template`, `FUNCTIONS`
and the two error types. Time functions read `orkestra.template.functions.CLOCK`.

Pipeline: `lexer` (tokens) → `parser` (AST with resolved variable slots) → `compiler`
(closures) → `compiled.Template`. Value semantics live in `values`, Go's fmt in `printf`, the
function groups in `library/`.
"""
from orkestra.template.compiled import Template, compile_template, is_template
from orkestra.template.errors import TemplateEvalError, TemplateSyntaxError
from orkestra.template.functions import FUNCTIONS

__all__ = ["FUNCTIONS", "Template", "TemplateEvalError", "TemplateSyntaxError",
           "compile_template", "is_template"]
