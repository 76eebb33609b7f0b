import { type Database, type Kysely, type ProductRow, sql } from "@taskflow/db";
import type { CatalogProduct, CatalogSnapshot } from "../domain/validate-order.ts";

/** The validator's reads of the `products` table; it never writes it. */
export interface ProductRepository {
  /** The products among `skus`, by SKU (an unknown SKU is simply absent); one query. */
  snapshot(skus: readonly string[]): Promise<CatalogSnapshot>;
  /** Up to `limit` products in SKU order, after `afterSku` when given (keyset pages). */
  list(options: { limit: number; afterSku?: string | undefined }): Promise<CatalogProduct[]>;
}

function toProduct(row: ProductRow): CatalogProduct {
  return {
    sku: row.sku,
    name: row.name,
    // int8 arrives as a JS number (packages/db), exact below 2^53 cents.
    priceCents: BigInt(row.price_cents),
    currency: row.currency,
    stock: row.stock,
  };
}

export function createProductRepository(db: Kysely<Database>): ProductRepository {
  const columns = ["sku", "name", "price_cents", "currency", "stock"] as const;
  return {
    async snapshot(skus) {
      if (skus.length === 0) return new Map();
      // One array parameter: the statement's text is the same whatever the number of SKUs.
      const rows = await db
        .selectFrom("products")
        .select(columns)
        .where(sql<boolean>`sku = any(${[...skus]}::text[])`)
        .execute();
      return new Map(rows.map((row) => [row.sku, toProduct(row)]));
    },
    async list({ limit, afterSku }) {
      let query = db.selectFrom("products").select(columns).orderBy("sku").limit(limit);
      if (afterSku !== undefined) query = query.where("sku", ">", afterSku);
      return (await query.execute()).map(toProduct);
    },
  };
}
