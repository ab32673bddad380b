"""In-context learning of functions from examples: lessons 21 (icl_regression) and 22
(icl_function_classes). Tasks whose inputs are real vectors (`tasks.py`), the models that
read them (`models.py`), the classical learners they are compared with (`baselines.py`)."""
