import { Type } from "@sinclair/typebox";

const Timestamp = Type.String({ format: "date-time" });
const Sku = Type.String({ minLength: 1, maxLength: 64, examples: ["KB-101"] });

export const CreateOrderBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          sku: Sku,
          // Bounds are the validator's to judge (its errors name the line): only the type here,
          // the contract's int32 (a larger number cannot be sent to the validator at all).
          quantity: Type.Integer({
            minimum: -2_147_483_648,
            maximum: 2_147_483_647,
            description: "1–1000",
          }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100, description: "1–100 lines" },
    ),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  {
    additionalProperties: false,
    examples: [{ items: [{ sku: "KB-101", quantity: 1 }], note: "gift wrap, please" }],
  },
);

export const OrderLineSchema = Type.Object(
  {
    sku: Type.String(),
    name: Type.String(),
    quantity: Type.Integer(),
    unit_price_cents: Type.Integer(),
    line_total_cents: Type.Integer(),
  },
  { $id: "OrderLine", title: "OrderLine" },
);

export const OrderSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    status: Type.Literal("CONFIRMED"),
    items: Type.Array(Type.Ref("OrderLine")),
    total_cents: Type.Integer({ description: "Integer cents" }),
    currency: Type.String({ examples: ["EUR"] }),
    note: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
  },
  { $id: "Order", title: "Order" },
);

export const OrderPageSchema = Type.Object(
  {
    items: Type.Array(Type.Ref("Order")),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: "Pass as ?cursor= for the next page",
    }),
  },
  { $id: "OrderPage", title: "OrderPage" },
);

export const ProductSchema = Type.Object(
  {
    sku: Type.String(),
    name: Type.String(),
    price_cents: Type.Integer(),
    currency: Type.String(),
    stock: Type.Integer(),
  },
  { $id: "Product", title: "Product" },
);

export const ListOrdersQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const OrderIdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
