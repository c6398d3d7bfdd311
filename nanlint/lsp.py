"""`nanlint server`: a Language Server (pygls, the `lsp` extra) for any LSP editor.

It publishes the static findings of a Python document when it is opened, changed and
saved (with the `[tool.nanlint]` settings that apply to its path), and offers each
finding's fix as a quick-fix code action (unsafe fixes too, labelled and never
preferred). Positions are converted from code points to the client's units (UTF-16
unless negotiated otherwise), so columns stay right on lines with non-ASCII text.
"""
from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from nanlint import __version__
from nanlint.api import check_source
from nanlint.config import ConfigError, Settings, config_for
from nanlint.findings import Finding, Severity, Span

_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


class NanlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("nanlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        # The latest findings of each open document, for code actions.
        self.findings: dict[str, list[Finding]] = {}

    def settings_for(self, document: TextDocument) -> Settings:
        try:
            return config_for(Path(document.path)).settings
        except ConfigError as error:
            self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"nanlint: {error}"))
            return Settings()

    def lint(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        findings = check_source(document.source, document.path, self.settings_for(document))
        self.findings[uri] = findings
        diagnostics = [diagnostic(document, f) for f in findings]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics, document.version))


def _range(document: TextDocument, span: Span) -> types.Range:
    server = ServerTextRange(
        ServerTextPosition(span.line - 1, span.column - 1), ServerTextPosition(span.end_line - 1, span.end_column - 1)
    )
    return document.range_to_client_units(server)


def diagnostic(document: TextDocument, finding: Finding) -> types.Diagnostic:
    return types.Diagnostic(
        range=_range(document, finding.span),
        message=finding.message,
        severity=_SEVERITIES[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=f"https://github.com/nanlint/nanlint/blob/main/rules/{finding.code}.md"),
        source="nanlint",
    )


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line, b.start.character
    ) <= (a.end.line, a.end.character)


def code_actions(server: NanlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = server.workspace.get_text_document(uri)
    actions = []
    for finding in server.findings.get(uri, []):
        fix = finding.fix
        if fix is None or not _overlaps(_range(document, finding.span), params.range):
            continue
        edit = types.TextEdit(_range(document, fix.span or finding.span), fix.replacement)
        title = f"{finding.code}: {fix.description}" + ("" if fix.safe else " (unsafe: changes behaviour)")
        actions.append(types.CodeAction(
            title=title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic(document, finding)],
            edit=types.WorkspaceEdit(changes={uri: [edit]}),
            is_preferred=fix.safe,
        ))
    return actions


def build_server() -> NanlintServer:
    server = NanlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NanlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.lint(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NanlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.lint(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NanlintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.lint(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NanlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.findings.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(params.text_document.uri, []))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    def code_action(ls: NanlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params)

    return server


def serve() -> None:
    build_server().start_io()
