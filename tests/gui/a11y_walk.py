"""Walking a widget tree the way assistive technology sees it (shared by the a11y tests)."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

#: What a person operates: each needs a name a screen reader can say.
INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractItemView,
    QAbstractSlider,
    QTabBar,
    QPlainTextEdit,
    QTextEdit,
)

#: Controls Qt builds from parts of its own, named through the control itself.
COMPOSITE = (QAbstractSpinBox, QComboBox, QTabBar, QAbstractItemView)


def accessible_name(widget: QWidget) -> str:
    """The name assistive technology reads for ``widget``.

    Qt's accessibility interface decides it: the accessible name if set, else
    a button's text (without its ``&``), else the label that is the widget's
    buddy (a QFormLayout row's label counts), else nothing.
    """
    # The stubs say never None; Qt returns none for an object it has no interface for.
    interface: QAccessibleInterface | None = QAccessible.queryAccessibleInterface(widget)
    return "" if interface is None else interface.text(QAccessible.Text.Name).strip()


def interactive_widgets(root: QWidget) -> Iterator[QWidget]:
    """The controls under ``root`` (itself included) a person can operate."""
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, INTERACTIVE):
            continue
        if isinstance(widget, QHeaderView | QScrollBar):
            continue  # the view's own parts, named by the view
        if inside_a_composite(widget, root):
            continue
        yield widget


def inside_a_composite(widget: QWidget, root: QWidget) -> bool:
    """Whether ``widget`` is a part Qt builds inside another control.

    A spin box's or combo box's line edit and popup list, a tab bar's scroll
    arrows, a view's corner button, a line edit's clear button: assistive
    technology reaches them through the control that owns them (named), and
    none of them is in the Tab order.
    """
    node = widget.parentWidget()
    while node is not None and node is not root.parentWidget():
        if isinstance(node, (*COMPOSITE, QLineEdit)):
            return True
        node = node.parentWidget()
    return False


def unnamed(root: QWidget) -> list[str]:
    """A description of every control under ``root`` without an accessible name."""
    found = []
    for widget in interactive_widgets(root):
        if isinstance(widget, QTabBar):
            missing = [i for i in range(widget.count()) if not widget.tabText(i).strip()]
            if missing:
                found.append(f"{describe(widget)} tabs {missing} have no text")
            continue
        if not accessible_name(widget):
            found.append(describe(widget))
    return found


def describe(widget: QWidget) -> str:
    """Where a widget is: its class, object name and owners, for a failure message."""
    path = []
    node: QWidget | None = widget
    while node is not None:
        path.append(type(node).__name__ + (f"#{node.objectName()}" if node.objectName() else ""))
        node = node.parentWidget()
    return " < ".join(path[:5])
