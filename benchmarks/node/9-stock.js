// Task 12 of the original exercise on Express 4, as written there: the stock is read, then
// written back minus one, so two requests at once can both be confirmed (it oversells).
// The benchmark's peer of 9_stock.py: same routes, bodies and Redis keys.
const express = require('express');
const redis = require('redis');
const { promisify } = require('util');

const listProducts = [
  { itemId: 1, itemName: 'Suitcase 250', price: 50, initialAvailableQuantity: 4 },
  { itemId: 2, itemName: 'Suitcase 450', price: 100, initialAvailableQuantity: 10 },
  { itemId: 3, itemName: 'Suitcase 650', price: 350, initialAvailableQuantity: 2 },
  { itemId: 4, itemName: 'Suitcase 1050', price: 550, initialAvailableQuantity: 5 },
];
const client = redis.createClient(process.env.REDIS_URL);
const getAsync = promisify(client.get).bind(client);

const getItemById = (id) => listProducts.find((item) => item.itemId === id);
const reserveStockById = (itemId, stock) => client.set(`item.${itemId}`, stock);
async function getCurrentReservedStockById(itemId) {
  const stock = await getAsync(`item.${itemId}`);
  return stock === null ? null : Number(stock);
}

const app = express();

app.get('/list_products', (req, res) => res.json(listProducts));

app.get('/list_products/:itemId', async (req, res) => {
  const item = getItemById(Number(req.params.itemId));
  if (!item) {
    res.json({ status: 'Product not found' });
    return;
  }
  const stock = await getCurrentReservedStockById(item.itemId);
  res.json({ ...item, currentQuantity: stock === null ? item.initialAvailableQuantity : stock });
});

app.get('/reserve_product/:itemId', async (req, res) => {
  const item = getItemById(Number(req.params.itemId));
  if (!item) {
    res.json({ status: 'Product not found' });
    return;
  }
  const stock = await getCurrentReservedStockById(item.itemId);
  const current = stock === null ? item.initialAvailableQuantity : stock;
  if (current < 1) {
    res.json({ status: 'Not enough stock available', itemId: item.itemId });
    return;
  }
  reserveStockById(item.itemId, current - 1);
  res.json({ status: 'Reservation confirmed', itemId: item.itemId });
});

const server = app.listen(Number(process.env.PORT || 1245), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
