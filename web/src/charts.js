// Charts, all drawn by TradingView's lightweight-charts: a candlestick chart
// of an asset's OHLC buckets and a small line chart (sparkline) per market.
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { createChart, CandlestickSeries, LineSeries, ColorType } from 'lightweight-charts';

const toSeconds = (t) => Math.floor(Date.parse(t) / 1000);

// framed returns the options of a chart with axes and a grid on white,
// with extra added: the look of every chart but the sparklines. The
// library's logo needs an inline style sheet, which the CSP refuses: the
// attribution is the text link under the chart.
export function framed(extra) {
  return {
    autoSize: true,
    layout: { background: { type: ColorType.Solid, color: '#ffffff' }, textColor: '#1f2933', attributionLogo: false },
    grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } },
    ...extra,
  };
}

// Candles draws points ([{t, open, high, low, close}]) with its caption and
// the library's attribution (its licence asks for a link to TradingView).
export function Candles({ points, label }) {
  const el = useRef(null);
  const chart = useRef(null);
  const series = useRef(null);
  useEffect(() => {
    chart.current = createChart(el.current, framed({ timeScale: { timeVisible: true, secondsVisible: false } }));
    series.current = chart.current.addSeries(CandlestickSeries, {
      upColor: '#0a7a2f', downColor: '#b3261e', borderVisible: false,
      wickUpColor: '#0a7a2f', wickDownColor: '#b3261e',
    });
    return () => chart.current.remove();
  }, []);
  useEffect(() => {
    series.current.setData(points.map((p) => ({ time: toSeconds(p.t), open: p.open, high: p.high, low: p.low, close: p.close })));
    chart.current.timeScale().fitContent();
  }, [points]);
  return html`<figure class="chart">
    <div class="candles" ref=${el} aria-hidden="true"></div>
    <figcaption>${label}. Charts by <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">TradingView Lightweight Charts™</a>, © TradingView, Inc.</figcaption>
  </figure>`;
}

// Sparkline draws a small line of points ([{t, price}] or OHLC buckets,
// whose close is used), green when it ends at or above where it starts.
export function Sparkline({ points, label }) {
  const el = useRef(null);
  const chart = useRef(null);
  const series = useRef(null);
  useEffect(() => {
    chart.current = createChart(el.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, attributionLogo: false },
      grid: { vertLines: { visible: false }, horzLines: { visible: false } },
      rightPriceScale: { visible: false }, leftPriceScale: { visible: false },
      timeScale: { visible: false }, crosshair: { vertLine: { visible: false }, horzLine: { visible: false } },
      handleScroll: false, handleScale: false,
    });
    series.current = chart.current.addSeries(LineSeries, {
      lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
    });
    return () => chart.current.remove();
  }, []);
  useEffect(() => {
    const seen = new Set();
    const data = [];
    for (const p of points) {
      const time = toSeconds(p.t);
      if (seen.has(time)) continue;
      seen.add(time);
      data.push({ time, value: p.close !== undefined ? p.close : p.price });
    }
    const up = data.length > 0 && data[data.length - 1].value >= data[0].value;
    series.current.applyOptions({ color: up ? '#0a7a2f' : '#b3261e' });
    series.current.setData(data);
    chart.current.timeScale().fitContent();
  }, [points]);
  return html`<div class="spark" ref=${el} role="img" aria-label=${label}></div>`;
}
