//! `calculator`: arithmetic on an expression, by a safe evaluator (no variables kept, no
//! input or output, no loops).

use super::ToolError;

/// The longest expression accepted.
const MAX_EXPRESSION_CHARS: usize = 1_000;

/// Evaluates `expression`, such as `(2 + 3) * 4 / 7` or `math::sqrt(2)`.
pub fn evaluate(expression: &str) -> Result<String, ToolError> {
    if expression.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ToolError::BadArguments(format!(
            "the expression is longer than {MAX_EXPRESSION_CHARS} characters"
        )));
    }
    evalexpr::eval(expression)
        .map(|value| value.to_string())
        .map_err(|err| ToolError::Failed(format!("cannot evaluate {expression:?}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_evaluated_and_nonsense_is_an_error() {
        assert_eq!(evaluate("(2 + 3) * 4").unwrap(), "20");
        assert_eq!(evaluate("7.0 / 2").unwrap(), "3.5");
        assert!(evaluate("2 +").is_err());
        assert!(evaluate(&"1+".repeat(600)).is_err());
    }
}
