"""Error messages that point the right way: each names what the user gave and what to do."""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp import MLP


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("dtype", ["float16", "longdouble"])
def test_unsupported_float_input_does_not_suggest_a_model_of_its_dtype(
    engine: str, dtype: str
) -> None:
    if np.dtype(dtype) == np.float64:
        pytest.skip("longdouble is float64 here")
    model = MLP([4, 3], seed=0, engine=engine)
    x = np.zeros((2, 4), dtype=dtype)
    for call in (model.predict, lambda a: model.fit(a, np.array([0, 1]), epochs=1, batch_size=1)):
        with pytest.raises(TypeError) as raised:
            call(x)
        message = str(raised.value)
        assert f"dtype='{np.dtype(dtype).name}'" not in message, message
        assert "x.astype(np.float32)" in message and "float32 or float64" in message
