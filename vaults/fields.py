"""Model fields for on-chain integers.

A u64 does not fit PostgreSQL's signed bigint (max 2^63-1), so amounts are NUMERIC(20,0), read
back as Python ints: floats never touch money.
"""
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

U64_MAX = 2**64 - 1
I128_DIGITS = 39


class U64Field(models.DecimalField):
    description = "Unsigned 64-bit integer stored as NUMERIC(20,0)"

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 20
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)
        self.validators.extend([MinValueValidator(0), MaxValueValidator(U64_MAX)])

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)

    def to_python(self, value):
        value = super().to_python(value)
        return None if value is None else int(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        return super().get_db_prep_value(value, connection, prepared)


class SignedAmountField(models.DecimalField):
    """A difference of two u64 values (reconciliation): NUMERIC(21,0), read back as int."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 21
        kwargs["decimal_places"] = 0
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_digits", None)
        kwargs.pop("decimal_places", None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        return super().get_db_prep_value(value, connection, prepared)
