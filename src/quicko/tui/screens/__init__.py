"""The terminal app's dialogs: join, call, recover, identity, safety numbers, incoming call."""

from __future__ import annotations

from quicko.tui.screens.confirm import ConfirmScreen, replace_question
from quicko.tui.screens.dialogs import call_form, join_form, recover_form, rename_form
from quicko.tui.screens.form import FormScreen, Incomplete
from quicko.tui.screens.identity import IdentityActions, IdentityScreen, IdentityView
from quicko.tui.screens.incoming import IncomingCallScreen
from quicko.tui.screens.safety import SafetyScreen

__all__ = [
    "ConfirmScreen",
    "FormScreen",
    "IdentityActions",
    "IdentityScreen",
    "IdentityView",
    "IncomingCallScreen",
    "Incomplete",
    "SafetyScreen",
    "call_form",
    "join_form",
    "recover_form",
    "rename_form",
    "replace_question",
]
