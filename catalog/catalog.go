// Package catalog holds the asset catalogue seeded on a platform's first
// start: real crypto assets with plausible prices and market data (late 2026
// levels, rounded). Numbers are decimal text, parsed exactly by the seeder.
package catalog

// Seed is one asset of the initial catalogue.
type Seed struct {
	ID, Name, Category, Description string
	Rank                            int
	Price                           string // USD
	MarketCap, Volume24h            string
	Change24hPct, Change7dPct       string
	Change30dPct                    string
	Circulating, Total, Max         string // "" when unknown / unlimited
	ATH, ATHDate, ATL, ATLDate      string
}

// Assets is the seeded catalogue, in market-cap rank order.
var Assets = []Seed{
	{"BTC", "Bitcoin", "layer-1", "The first decentralised digital currency, secured by proof of work.", 1, "67250.00", "1327000000000", "28500000000", "1.24", "3.80", "-2.10", "19730000", "19730000", "21000000", "73750.07", "2024-03-14T07:10:36.635Z", "67.81", "2013-07-06T00:00:00.000Z"},
	{"ETH", "Ethereum", "layer-1", "A programmable blockchain for smart contracts and decentralised applications.", 2, "3480.50", "418000000000", "15200000000", "0.85", "2.40", "5.60", "120100000", "120100000", "", "4878.26", "2021-11-10T14:24:19.604Z", "0.432979", "2015-10-20T00:00:00.000Z"},
	{"USDT", "Tether", "stablecoin", "A US dollar stablecoin.", 3, "1.00", "118000000000", "52000000000", "0.01", "0.02", "-0.01", "118000000000", "118000000000", "", "1.32", "2018-07-24T00:00:00.000Z", "0.572521", "2015-03-02T00:00:00.000Z"},
	{"BNB", "BNB", "exchange", "The native coin of the BNB Chain ecosystem.", 4, "585.20", "86300000000", "1700000000", "-0.45", "1.10", "3.20", "147500000", "147500000", "200000000", "720.67", "2024-06-06T14:10:59.816Z", "0.0398177", "2017-10-19T00:00:00.000Z"},
	{"SOL", "Solana", "layer-1", "A high-throughput proof-of-stake blockchain.", 5, "148.75", "68900000000", "2900000000", "2.35", "6.90", "12.40", "463200000", "580000000", "", "259.96", "2021-11-06T21:54:35.825Z", "0.500801", "2020-05-11T19:35:23.449Z"},
	{"USDC", "USD Coin", "stablecoin", "A fully reserved US dollar stablecoin.", 6, "1.00", "33500000000", "6100000000", "0.00", "0.01", "0.00", "33500000000", "33500000000", "", "1.17", "2019-05-08T00:40:28.300Z", "0.877647", "2023-03-11T08:02:13.175Z"},
	{"XRP", "XRP", "payments", "A digital asset for fast cross-border settlement.", 7, "0.5240", "29100000000", "1200000000", "-1.10", "-0.80", "4.10", "55600000000", "99990000000", "100000000000", "3.40", "2018-01-07T00:00:00.000Z", "0.00268621", "2014-05-22T00:00:00.000Z"},
	{"DOGE", "Dogecoin", "meme", "A peer-to-peer currency that began as a joke.", 8, "0.1235", "17900000000", "850000000", "3.40", "8.20", "15.50", "145000000000", "145000000000", "", "0.731578", "2021-05-08T05:08:23.458Z", "0.0000869", "2015-05-06T00:00:00.000Z"},
	{"TON", "Toncoin", "layer-1", "The blockchain originally designed by Telegram.", 9, "6.85", "17200000000", "310000000", "-0.75", "1.90", "-4.30", "2510000000", "5110000000", "", "8.25", "2024-06-15T00:36:51.509Z", "0.519364", "2021-09-21T00:33:11.092Z"},
	{"ADA", "Cardano", "layer-1", "A proof-of-stake blockchain built from peer-reviewed research.", 10, "0.4510", "16000000000", "390000000", "0.95", "2.70", "6.80", "35500000000", "45000000000", "45000000000", "3.09", "2021-09-02T06:00:10.474Z", "0.01925275", "2020-03-13T02:22:55.044Z"},
	{"AVAX", "Avalanche", "layer-1", "A platform of interoperable, fast-finality blockchains.", 11, "35.40", "13900000000", "420000000", "1.80", "4.50", "9.30", "393000000", "446000000", "720000000", "144.96", "2021-11-21T14:18:56.538Z", "2.8", "2020-12-31T13:15:21.540Z"},
	{"TRX", "TRON", "layer-1", "A blockchain for content sharing and stablecoin transfers.", 12, "0.1210", "10600000000", "340000000", "0.20", "1.10", "2.50", "87600000000", "87600000000", "", "0.231673", "2018-01-05T00:00:00.000Z", "0.00180434", "2017-11-12T00:00:00.000Z"},
	{"DOT", "Polkadot", "layer-0", "A network that connects specialised blockchains.", 13, "7.15", "10300000000", "210000000", "-0.60", "0.90", "-3.10", "1440000000", "1440000000", "", "54.98", "2021-11-04T14:10:09.301Z", "2.7", "2020-08-20T05:48:11.359Z"},
	{"LINK", "Chainlink", "oracle", "A decentralised oracle network bringing off-chain data on-chain.", 14, "14.60", "8600000000", "380000000", "1.45", "5.20", "8.70", "587000000", "1000000000", "1000000000", "52.70", "2021-05-10T00:13:57.214Z", "0.148183", "2017-11-29T00:00:00.000Z"},
	{"MATIC", "Polygon", "layer-2", "Scaling infrastructure for Ethereum.", 15, "0.7150", "7100000000", "290000000", "-0.30", "1.60", "-5.20", "9900000000", "10000000000", "10000000000", "2.92", "2021-12-27T02:08:34.307Z", "0.00314376", "2019-05-10T00:00:00.000Z"},
	{"LTC", "Litecoin", "payments", "A peer-to-peer currency with faster blocks than Bitcoin.", 16, "84.30", "6300000000", "410000000", "0.65", "2.10", "1.40", "74800000", "84000000", "84000000", "410.26", "2021-05-10T03:13:07.904Z", "1.15", "2015-01-14T00:00:00.000Z"},
	{"BCH", "Bitcoin Cash", "payments", "A fork of Bitcoin with larger blocks.", 17, "452.10", "8900000000", "330000000", "0.90", "3.30", "4.20", "19700000", "19700000", "21000000", "3785.82", "2017-12-20T00:00:00.000Z", "76.93", "2018-12-16T00:00:00.000Z"},
	{"SHIB", "Shiba Inu", "meme", "A community-driven meme token on Ethereum.", 18, "0.00002450", "14400000000", "520000000", "4.10", "9.80", "18.20", "589300000000000", "589500000000000", "", "0.00008616", "2021-10-28T03:54:55.568Z", "0.000000000056366", "2020-11-28T11:26:25.838Z"},
	{"UNI", "Uniswap", "defi", "The governance token of the Uniswap exchange protocol.", 19, "9.85", "5900000000", "180000000", "-1.25", "0.40", "7.60", "600000000", "1000000000", "1000000000", "44.92", "2021-05-03T05:25:04.822Z", "1.03", "2020-09-17T01:20:38.214Z"},
	{"ATOM", "Cosmos Hub", "layer-0", "The hub of an internet of interoperable blockchains.", 20, "8.40", "3300000000", "160000000", "0.55", "1.80", "-2.40", "390000000", "390000000", "", "44.45", "2022-01-17T00:34:41.497Z", "1.16", "2020-03-13T02:27:44.591Z"},
	{"XLM", "Stellar", "payments", "An open network for payments and asset issuance.", 21, "0.1080", "3200000000", "95000000", "0.35", "1.20", "3.10", "29600000000", "50001000000", "50001000000", "0.875563", "2018-01-03T00:00:00.000Z", "0.00047612", "2015-03-05T00:00:00.000Z"},
	{"NEAR", "NEAR Protocol", "layer-1", "A sharded, developer-friendly proof-of-stake blockchain.", 22, "5.90", "6400000000", "410000000", "2.90", "7.40", "11.80", "1090000000", "1190000000", "", "20.44", "2022-01-16T22:09:45.873Z", "0.526762", "2020-11-04T16:09:15.137Z"},
	{"APT", "Aptos", "layer-1", "A Move-based layer-1 blockchain.", 23, "8.95", "3900000000", "170000000", "-0.95", "2.30", "-6.70", "440000000", "1100000000", "", "19.92", "2023-01-26T14:25:17.390Z", "3.08", "2022-12-29T21:35:14.796Z"},
	{"FIL", "Filecoin", "storage", "A decentralised storage network.", 24, "5.25", "3000000000", "190000000", "1.10", "3.60", "2.20", "570000000", "1960000000", "1960000000", "236.84", "2021-04-01T13:29:41.564Z", "0.846572", "2024-08-05T00:00:00.000Z"},
}
