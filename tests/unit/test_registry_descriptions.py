"""The registry describes every column: the descriptions Glue's comments and dbt's docs show."""

import pytest
from bwp.lake.schemas import ORDER_FEES, PROVISIONAL_NOTE, REGISTRY, Column, ColumnType, column_table


def test_a_line_indented_under_a_column_continues_its_description():
    columns = column_table("""
        orderId    STRING   An id that
            goes on here
        feeAmount  DECIMAL
    """)
    assert columns == (
        Column("orderId", ColumnType.STRING, "An id that goes on here"),
        Column("feeAmount", ColumnType.DECIMAL, ""),
    )


@pytest.mark.parametrize("schema", REGISTRY.values(), ids=list(REGISTRY))
def test_every_registry_column_has_a_description_and_provisional_ones_say_so(schema):
    descriptions = [schema.column_description(column) for column in schema.columns]
    assert all(column.description.strip() for column in schema.columns)
    assert [text.endswith(PROVISIONAL_NOTE) for text in descriptions] == [schema.provisional] * len(descriptions)


def test_order_fees_descriptions_are_the_documentation_s():
    described = {column.name: column.description for column in ORDER_FEES.columns}
    assert described["sellingPartnerFbaShipmentId"] == (
        "Amazon shipment ID, which you can use to cross-reference with other reports such as a fulfilled shipments "
        "report. The field is populated where the feeType is PrimeFulfillmentFee."
    )
