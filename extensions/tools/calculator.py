"""The calculator tool: arithmetic over a parsed AST, never `eval`, bounded in size and time."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated, Any

#: The longest expression accepted, in characters.
MAX_EXPRESSION = 1_000
#: The most AST nodes an expression may have.
MAX_NODES = 200
#: Integers larger than this many bits are refused (results of ** and *).
MAX_BITS = 4_096

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalculatorError(ValueError):
    """The expression is not plain arithmetic, or its result would be too large."""


#: What an expression may contain; in the schema, so that constrained decoding keeps calls to arithmetic.
EXPRESSION_SCHEMA = {"pattern": "^[-(0-9a-z][-+*/%^().,0-9a-z ]*$", "maxLength": 200}


def calculator(expression: Annotated[str, EXPRESSION_SCHEMA]) -> str:
    """Evaluate an arithmetic expression and return the result.

    Args:
        expression: Arithmetic such as "1234 * 5678" or "sqrt(2) / 3": numbers, + - * / // % **,
            parentheses, and the functions sqrt, abs, round, floor, ceil, sin, cos, tan, log, log10, exp, min, max.
    """
    return format_number(evaluate(expression))


def evaluate(expression: str) -> int | float:
    """The value of `expression`; raise `CalculatorError` for anything but bounded arithmetic."""
    if len(expression) > MAX_EXPRESSION:
        raise CalculatorError(f"the expression is too long ({len(expression)} characters, at most {MAX_EXPRESSION})")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not an arithmetic expression: {exc.msg}") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculatorError(f"the expression is too complex (more than {MAX_NODES} parts)")
    return _eval(tree.body)


def format_number(value: int | float) -> str:
    """A result as people write it: integers exactly, floats without a trailing .0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        _check_size(node.op, left, right)
        try:
            return _checked(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise CalculatorError("division by zero") from exc
        except OverflowError as exc:
            raise CalculatorError("the result is too large") from exc
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords or not node.args or len(node.args) > 8:
            raise CalculatorError(f"{node.func.id}() takes 1 to 8 plain arguments")
        try:
            return _checked(_FUNCTIONS[node.func.id](*[_eval(arg) for arg in node.args]))
        except (ValueError, OverflowError, TypeError) as exc:
            raise CalculatorError(f"{node.func.id}(): {exc}") from exc
    raise CalculatorError(f"not allowed in arithmetic: {ast.unparse(node)[:60]!r}")


def _check_size(op: ast.operator, left: int | float, right: int | float) -> None:
    """Refuse operations whose integer result would exceed MAX_BITS before computing them."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if isinstance(op, ast.Pow) and right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_BITS:
        raise CalculatorError(f"the result is too large (more than {MAX_BITS} bits)")
    if isinstance(op, ast.Mult) and left.bit_length() + right.bit_length() > MAX_BITS:
        raise CalculatorError(f"the result is too large (more than {MAX_BITS} bits)")


def _checked(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalculatorError("the result is not a number")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise CalculatorError("the result is not a finite number")
    return value


TOOL = calculator
