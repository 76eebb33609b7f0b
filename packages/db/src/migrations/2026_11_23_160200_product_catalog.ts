import { type Kysely, sql } from "kysely";

/**
 * The product catalog the validator prices orders from (services/validator owns it), seeded
 * with a dozen products in EUR, two of them nearly sold out. Prices are integer cents.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("products")
    .addColumn("sku", "text", (c) => c.primaryKey().check(sql`sku ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'`))
    .addColumn("name", "text", (c) => c.notNull().check(sql`length(name) BETWEEN 1 AND 200`))
    .addColumn("price_cents", "bigint", (c) => c.notNull().check(sql`price_cents >= 0`))
    .addColumn("currency", sql`char(3)`, (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn("stock", "integer", (c) => c.notNull().check(sql`stock >= 0`))
    .execute();
  // Typed here as the table is now, not as schema.ts may describe it later.
  await db
    .withTables<{ products: ProductSeedRow }>()
    .insertInto("products")
    .values(
      SEED.map(([sku, name, price_cents, stock]) => ({
        sku,
        name,
        price_cents,
        currency: "EUR",
        stock,
      })),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("products").execute();
}

interface ProductSeedRow {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  stock: number;
}

/** sku, name, price in cents, stock. */
const SEED: [string, string, number, number][] = [
  ["KB-101", "Mechanical keyboard", 8_999, 120],
  ["MS-201", "Wireless mouse", 2_950, 300],
  ["MN-270", "27-inch monitor", 27_900, 40],
  ["HD-330", "Noise-cancelling headphones", 19_999, 60],
  ["WC-110", "HD webcam", 5_490, 85],
  ["DS-400", "Standing desk", 44_900, 12],
  ["CH-500", "Ergonomic chair", 31_950, 3],
  ["LP-140", "Laptop stand", 3_999, 150],
  ["CB-USB", "USB-C cable, 2 m", 1_299, 1_000],
  ["HB-700", "USB-C hub, 7 ports", 4_590, 200],
  ["MP-XL", "Desk mat, XL", 2_490, 75],
  ["LT-LED", "LED desk lamp", 3_450, 2],
];
