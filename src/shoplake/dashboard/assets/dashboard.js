// shoplake dashboard: draws every panel from the JSON embedded in the page, as inline SVG
// and HTML, and re-draws them when the date range, the regions or the metric change.
// No libraries and no network: the page must work from a file on a machine offline.
(function () {
  'use strict';

  const D = JSON.parse(document.getElementById('dashboard-data').textContent);
  const DAY_MS = 86400000;

  // --- labels and colours ------------------------------------------------------------
  const REGION_LABELS = {
    north_america: 'North America',
    latin_america: 'Latin America',
    europe: 'Europe',
    middle_east_africa: 'Middle East & Africa',
    asia_pacific: 'Asia Pacific',
    unknown: 'Unknown',
  };
  const REGION_COLORS = {
    north_america: '#3366cc',
    latin_america: '#2a9d8f',
    europe: '#7b5ea7',
    middle_east_africa: '#e08a2c',
    asia_pacific: '#d1495b',
    unknown: '#94a3b8',
  };
  const SPARE_COLORS = ['#64748b', '#8d6e63', '#0e7490', '#a16207'];
  const STATUS_COLORS = {
    captured: '#2a9d8f',
    authorized: '#3366cc',
    refunded: '#e0a92c',
    failed: '#d1495b',
  };
  const STATUS_ORDER = ['captured', 'authorized', 'refunded', 'failed'];
  const FUNNEL_STEPS = ['Sessions', 'Viewed a product', 'Added to cart', 'Started checkout', 'Purchased'];

  const regionLabel = (r) => REGION_LABELS[r] || titleCase(r);
  const regionColor = (r) =>
    REGION_COLORS[r] || SPARE_COLORS[Math.max(0, D.regions.indexOf(r)) % SPARE_COLORS.length];
  const statusColor = (s) => STATUS_COLORS[s] || '#94a3b8';

  // --- formatting ----------------------------------------------------------------------
  const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const sign = (v) => (v < 0 ? '−' : '');
  const int = (v) => (v == null ? '–' : nf0.format(v));
  const money0 = (v) => (v == null ? '–' : sign(v) + '$' + nf0.format(Math.abs(v)));
  const money2 = (v) => (v == null ? '–' : sign(v) + '$' + nf2.format(Math.abs(v)));
  const pct = (v, digits) => (v == null ? '–' : (v * 100).toFixed(digits == null ? 1 : digits) + '%');
  function smallPct(v) {
    if (v == null) return '–';
    const p = v * 100;
    if (p === 0) return '0%';
    if (p < 0.001) return '<0.001%';
    return p.toFixed(p < 0.1 ? 3 : p < 10 ? 2 : 1) + '%';
  }
  function compact(v) {
    const a = Math.abs(v);
    const trim = (x) => x.toFixed(1).replace(/\.0$/, '');
    if (a >= 1e6) return sign(v) + trim(a / 1e6) + 'M';
    if (a >= 1e4) return sign(v) + trim(a / 1e3) + 'k';
    if (a >= 1e3) return sign(v) + nf0.format(a);
    return sign(v) + (Number.isInteger(a) ? String(a) : trim(a));
  }
  const moneyAxis = (v) => '$' + compact(v);
  function titleCase(s) {
    return String(s).replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
  }
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }
  function hours(h) {
    if (h == null) return '–';
    if (h < 1) return Math.round(h * 60) + ' min';
    if (h < 100) return (Number.isInteger(h) ? String(h) : h.toFixed(1)) + ' h';
    return (h / 24).toFixed(1) + ' d';
  }
  const LABELS = { paypal: 'PayPal', bank_transfer: 'Bank transfer', gift_card: 'Gift card', cash_on_delivery: 'Cash on delivery' };
  function label(s) {
    const text = String(s == null ? '' : s);
    return LABELS[text] || (text.charAt(0).toUpperCase() + text.slice(1)).replace(/_/g, ' ');
  }

  // --- dates (ISO day strings, UTC) ----------------------------------------------------
  const ms = (d) => Date.parse(d + 'T00:00:00Z');
  const iso = (t) => new Date(t).toISOString().slice(0, 10);
  const addDays = (d, n) => iso(ms(d) + n * DAY_MS);
  const spanDays = (a, b) => Math.round((ms(b) - ms(a)) / DAY_MS) + 1;
  function dayList(a, b) {
    const out = [];
    for (let t = ms(a); t <= ms(b); t += DAY_MS) out.push(iso(t));
    return out;
  }
  const dayFmt = (d, opts) =>
    new Date(ms(d)).toLocaleDateString('en-GB', Object.assign({ timeZone: 'UTC', day: 'numeric', month: 'short' }, opts || {}));
  function rangeFmt(a, b) {
    const sameYear = a.slice(0, 4) === b.slice(0, 4);
    if (a === b) return dayFmt(a, { year: 'numeric' });
    return dayFmt(a, sameYear ? {} : { year: 'numeric' }) + ' – ' + dayFmt(b, { year: 'numeric' });
  }
  function stampFmt(ts) {
    if (!ts) return '–';
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(ts) ? ts : ts + 'Z');
    return d.toLocaleString('en-GB', {
      timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
    }) + ' UTC';
  }

  // --- tooltips: elements carry data-tip="<id>", the HTML lives here -----------------------
  let tips = [];
  const tipEl = document.getElementById('tip');
  function tip(html) {
    tips.push(html);
    return ' data-tip="' + (tips.length - 1) + '"';
  }
  function placeTip(e) {
    const pad = 14;
    const w = tipEl.offsetWidth;
    const h = tipEl.offsetHeight;
    let x = e.clientX + pad;
    let y = e.clientY + pad;
    if (x + w > window.innerWidth - 4) x = e.clientX - w - pad;
    if (y + h > window.innerHeight - 4) y = e.clientY - h - pad;
    tipEl.style.left = Math.max(4, x) + 'px';
    tipEl.style.top = Math.max(4, y) + 'px';
  }
  document.addEventListener('mousemove', (e) => {
    const target = e.target instanceof Element ? e.target.closest('[data-tip]') : null;
    if (!target) {
      tipEl.hidden = true;
      return;
    }
    const html = tips[Number(target.getAttribute('data-tip'))];
    if (html == null) return;
    if (tipEl.dataset.current !== target.getAttribute('data-tip') || tipEl.hidden) {
      tipEl.innerHTML = html;
      tipEl.dataset.current = target.getAttribute('data-tip');
      tipEl.hidden = false;
    }
    placeTip(e);
  });
  document.addEventListener('mouseleave', () => { tipEl.hidden = true; });
  const tipRow = (color, label, value, cls) =>
    '<tr' + (cls ? ' class="' + cls + '"' : '') + '><td>' +
    (color ? '<span class="sw-dot" style="background:' + color + '"></span>' : '') +
    esc(label) + '</td><td class="n">' + esc(value) + '</td></tr>';

  // --- state ---------------------------------------------------------------------------
  const allDays = spanDays(D.first_day, D.last_day);
  const PRESETS = [
    { label: 'Last 7 days', days: 7 },
    { label: 'Last 28 days', days: 28 },
    { label: 'All', days: null },
  ].filter((p) => p.days == null || p.days < allDays);
  const METRICS = [
    { key: 'revenue', tab: 'Revenue', title: 'Revenue by day', axis: 'Revenue (USD)', fmt: money0, axisFmt: moneyAxis, stack: true },
    { key: 'orders', tab: 'Orders', title: 'Orders by day', axis: 'Orders', fmt: int, axisFmt: compact, stack: true },
    { key: 'aov', tab: 'AOV', title: 'Average order value by day', axis: 'AOV (USD)', fmt: money2, axisFmt: moneyAxis, stack: false },
    { key: 'customers', tab: 'Customers', title: 'Customers by day', axis: 'Customers', fmt: int, axisFmt: compact, stack: true },
  ];
  const state = {
    from: allDays >= 14 ? addDays(D.last_day, -6) : D.first_day,
    to: D.last_day,
    regions: null, // null: every region; else a Set of the selected ones
    metric: 'revenue',
  };
  const selectedRegions = () => D.regions.filter((r) => !state.regions || state.regions.has(r));

  // --- figures for a period and a set of regions -----------------------------------------
  function summarize(from, to, regions) {
    const inRegion = (r) => !regions || regions.has(r);
    const days = new Map(dayList(from, to).map((d) => [d, {
      revenue: 0, orders: 0, customers: 0, sessions: 0, purchases: 0, regions: {}, ids: new Set(),
    }]));
    const s = { revenue: 0, orders: 0, items: 0, customers: 0, sessions: 0, purchases: 0, days, regions: {} };
    for (const [d, r, orders, items, customers, revenue] of D.revenue) {
      const day = days.get(d);
      if (!day || !inRegion(r)) continue;
      s.revenue += revenue;
      s.orders += orders;
      s.items += items;
      day.revenue += revenue;
      day.orders += orders;
      day.regions[r] = { revenue, orders, customers };
      const reg = s.regions[r] || (s.regions[r] = { revenue: 0, orders: 0, ids: new Set() });
      reg.revenue += revenue;
      reg.orders += orders;
    }
    const ids = new Set();
    for (const [d, r, members] of D.customers) {
      const day = days.get(d);
      if (!day || !inRegion(r)) continue;
      for (const id of members) {
        ids.add(id);
        day.ids.add(id);
        if (s.regions[r]) s.regions[r].ids.add(id);
      }
    }
    s.customers = ids.size;
    for (const day of days.values()) day.customers = day.ids.size;
    for (const [d, sessions, , , , purchases] of D.funnel) {
      const day = days.get(d);
      if (!day) continue;
      s.sessions += sessions;
      s.purchases += purchases;
      day.sessions = sessions;
      day.purchases = purchases;
    }
    s.aov = s.orders ? s.revenue / s.orders : null;
    s.conversion = s.sessions ? s.purchases / s.sessions : null;
    return s;
  }

  // --- SVG helpers -----------------------------------------------------------------------
  function niceScale(max, ticks) {
    if (!(max > 0)) return { max: 1, step: 0.25 };
    const raw = max / (ticks || 4);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const n = raw / mag;
    const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
    return { max: Math.ceil(max / step - 1e-9) * step, step };
  }
  function frame(el, height, margin) {
    const W = Math.max(300, Math.round(el.clientWidth || 640));
    return { W, H: height, m: margin, pw: W - margin.l - margin.r, ph: height - margin.t - margin.b };
  }
  function svgOpen(f, label) {
    return '<svg viewBox="0 0 ' + f.W + ' ' + f.H + '" width="' + f.W + '" height="' + f.H +
      '" role="img" aria-label="' + esc(label) + '">';
  }
  function yAxis(f, scale, fmt, title) {
    let out = '<g class="axis">';
    for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
      const y = f.m.t + f.ph - (v / scale.max) * f.ph;
      out += '<line class="' + (v === 0 ? 'baseline' : 'gridline') + '" x1="' + f.m.l + '" x2="' + (f.m.l + f.pw) +
        '" y1="' + y.toFixed(1) + '" y2="' + y.toFixed(1) + '"/>';
      out += '<text x="' + (f.m.l - 8) + '" y="' + (y + 4).toFixed(1) + '" text-anchor="end">' + esc(fmt(v)) + '</text>';
    }
    if (title) {
      const cy = f.m.t + f.ph / 2;
      out += '<text class="axis-title" transform="translate(13,' + cy + ') rotate(-90)" text-anchor="middle">' + esc(title) + '</text>';
    }
    return out + '</g>';
  }
  function xAxisDays(f, days, xCenter, title) {
    const every = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor(f.pw / 62))));
    let out = '<g class="axis">';
    days.forEach((d, i) => {
      if ((days.length - 1 - i) % every !== 0) return; // keep the last day labelled
      out += '<text x="' + xCenter(i).toFixed(1) + '" y="' + (f.m.t + f.ph + 17) + '" text-anchor="middle">' + esc(dayFmt(d)) + '</text>';
    });
    if (title) {
      out += '<text class="axis-title" x="' + (f.m.l + f.pw / 2) + '" y="' + (f.H - 4) + '" text-anchor="middle">' + esc(title) + '</text>';
    }
    return out + '</g>';
  }
  function linePath(points) {
    let d = '';
    let pen = false;
    for (const p of points) {
      if (p == null) {
        pen = false;
        continue;
      }
      d += (pen ? 'L' : 'M') + p[0].toFixed(1) + ',' + p[1].toFixed(1);
      pen = true;
    }
    return d;
  }
  const empty = (text) => '<div class="empty">' + esc(text) + '</div>';

  // --- header, filters -----------------------------------------------------------------
  function drawHeader() {
    document.getElementById('meta').innerHTML =
      'Data <strong>' + esc(rangeFmt(D.first_day, D.last_day)) + '</strong> (' + allDays + ' days) · generated ' +
      esc(stampFmt(D.generated_at));
    const link = document.getElementById('docs-link');
    if (window.location.protocol === 'file:') {
      link.removeAttribute('href');
      link.classList.add('offline');
      link.textContent = 'Data docs: run shoplake serve';
      link.title = 'The docs site is served with this dashboard by `shoplake serve` (at /docs/)';
    } else {
      link.setAttribute('href', D.docs_href);
    }
    document.getElementById('foot').innerHTML =
      'Revenue is the net amount in USD of orders that were not ' + esc(D.non_revenue_statuses.join(' or ')) +
      ', counted on the order\'s business date (UTC); AOV = revenue / orders. ' +
      'Built by <code>shoplake dashboard</code> from ' + esc(D.warehouse) + '.';
  }

  function drawFilters() {
    const from = document.getElementById('from');
    const to = document.getElementById('to');
    for (const input of [from, to]) {
      input.min = D.first_day;
      input.max = D.last_day;
    }
    from.value = state.from;
    to.value = state.to;
    document.getElementById('presets').innerHTML = PRESETS.map((p, i) => {
      const start = p.days == null ? D.first_day : addDays(D.last_day, 1 - p.days);
      const on = state.from === start && state.to === D.last_day;
      return '<button type="button" data-preset="' + i + '" aria-pressed="' + on + '">' + esc(p.label) + '</button>';
    }).join('');
    const chips = document.getElementById('regions');
    chips.classList.toggle('some', state.regions != null);
    chips.innerHTML =
      '<button type="button" data-region="" aria-pressed="' + (state.regions == null) + '">All regions</button>' +
      D.regions.map((r) => {
        const on = state.regions != null && state.regions.has(r);
        return '<button type="button" data-region="' + esc(r) + '" aria-pressed="' + on + '">' +
          '<span class="sw" style="background:' + regionColor(r) + '"></span>' + esc(regionLabel(r)) + '</button>';
      }).join('');
    document.getElementById('metric-tabs').innerHTML = METRICS.map((m) =>
      '<button type="button" role="tab" data-metric="' + m.key + '" aria-selected="' + (state.metric === m.key) + '">' +
      esc(m.tab) + '</button>').join('');
  }

  function clampDay(d, fallback) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d || '')) return fallback;
    return d < D.first_day ? D.first_day : d > D.last_day ? D.last_day : d;
  }
  function onDates() {
    let a = clampDay(document.getElementById('from').value, state.from);
    let b = clampDay(document.getElementById('to').value, state.to);
    if (a > b) [a, b] = [b, a];
    state.from = a;
    state.to = b;
    render();
  }
  document.getElementById('from').addEventListener('change', onDates);
  document.getElementById('to').addEventListener('change', onDates);
  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button') : null;
    if (!button) return;
    if (button.hasAttribute('data-preset')) {
      const p = PRESETS[Number(button.getAttribute('data-preset'))];
      state.from = p.days == null ? D.first_day : addDays(D.last_day, 1 - p.days);
      state.to = D.last_day;
    } else if (button.hasAttribute('data-region')) {
      const r = button.getAttribute('data-region');
      if (!r) state.regions = null;
      else {
        const next = new Set(state.regions || []);
        if (next.has(r)) next.delete(r);
        else next.add(r);
        state.regions = next.size && next.size < D.regions.length ? next : null;
      }
    } else if (button.hasAttribute('data-metric')) {
      state.metric = button.getAttribute('data-metric');
    } else return;
    render();
  });

  // --- KPI tiles -------------------------------------------------------------------------
  function sparkline(values, color) {
    const W = 200, H = 34;
    const nums = values.filter((v) => v != null);
    if (nums.length < 2) return '';
    const lo = Math.min.apply(null, nums);
    const hi = Math.max.apply(null, nums);
    const x = (i) => (values.length === 1 ? W / 2 : (i / (values.length - 1)) * (W - 4) + 2);
    const y = (v) => (hi === lo ? H / 2 : H - 3 - ((v - lo) / (hi - lo)) * (H - 6));
    const pts = values.map((v, i) => (v == null ? null : [x(i), y(v)]));
    const line = linePath(pts);
    const firstIdx = values.findIndex((v) => v != null);
    const lastIdx = values.length - 1 - [...values].reverse().findIndex((v) => v != null);
    const area = line + 'L' + x(lastIdx).toFixed(1) + ',' + H + 'L' + x(firstIdx).toFixed(1) + ',' + H + 'Z';
    return '<svg viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" width="100%" height="34" aria-hidden="true">' +
      '<path d="' + area + '" fill="' + color + '" fill-opacity="0.10"/>' +
      '<path d="' + line + '" fill="none" stroke="' + color + '" stroke-width="1.6" vector-effect="non-scaling-stroke"/></svg>';
  }

  function drawKpis(cur, prev, prevFrom, prevTo) {
    const dayValues = (fn) => [...cur.days.values()].map(fn);
    const perDay = (num, den) => (day) => (day[den] ? day[num] / day[den] : null);
    const tiles = [
      {
        key: 'revenue', label: 'Revenue', fmt: money0, raw: (s) => s.revenue, digits: 2, series: dayValues((d) => d.revenue),
        note: 'net of discounts, in USD',
      },
      {
        key: 'orders', label: 'Orders', fmt: int, raw: (s) => s.orders, digits: 0, series: dayValues((d) => d.orders),
        note: 'not ' + D.non_revenue_statuses.join(' or '),
      },
      {
        key: 'aov', label: 'Avg order value', fmt: money2, raw: (s) => s.aov, digits: 2,
        series: dayValues(perDay('revenue', 'orders')), note: 'revenue / orders',
      },
      {
        key: 'customers', label: 'Customers', fmt: int, raw: (s) => s.customers, digits: 0,
        series: dayValues((d) => d.customers), note: 'distinct, with an order in the period',
      },
      {
        key: 'conversion', label: 'Conversion', fmt: (v) => pct(v, 2), raw: (s) => s.conversion, digits: 6, points: true,
        series: dayValues(perDay('purchases', 'sessions')),
        note: state.regions ? 'all regions: clicks carry no region' : 'sessions with a purchase',
      },
    ];
    const periodText = prev ? 'vs ' + rangeFmt(prevFrom, prevTo) : '';
    document.getElementById('kpis').innerHTML = tiles.map((t) => {
      const v = t.raw(cur);
      let delta = '<span class="flat">–</span> no earlier period in the data';
      let tipHtml = '';
      if (prev) {
        const p = t.raw(prev);
        if (v != null && p != null && p !== 0) {
          const change = t.points ? (v - p) * 100 : (v - p) / Math.abs(p) * 100;
          const cls = Math.abs(change) < 0.05 ? 'flat' : change > 0 ? 'up' : 'down';
          const arrow = cls === 'flat' ? '■' : cls === 'up' ? '▲' : '▼';
          const text = (cls === 'flat' ? '±' : change > 0 ? '+' : '−') + Math.abs(change).toFixed(1) + (t.points ? ' pp' : '%');
          delta = '<span class="' + cls + '">' + arrow + ' ' + text + '</span> ' + esc(periodText);
          tipHtml = '<b>' + esc(t.label) + '</b><table>' + tipRow(null, rangeFmt(state.from, state.to), t.fmt(v)) +
            tipRow(null, rangeFmt(prevFrom, prevTo), t.fmt(p)) + '</table>';
        } else {
          delta = '<span class="flat">–</span> ' + esc(periodText) + ': no value';
        }
      }
      return '<div class="kpi" id="kpi-' + t.key + '" data-value="' + (v == null ? '' : v.toFixed(t.digits)) + '">' +
        '<div class="label">' + esc(t.label) + '</div>' +
        '<div class="value">' + esc(t.fmt(v)) + '</div>' +
        '<div class="delta"' + (tipHtml ? tip(tipHtml) : '') + '>' + delta + '</div>' +
        (t.note ? '<div class="note">' + esc(t.note) + '</div>' : '') +
        '<div class="spark">' + sparkline(t.series, '#3366cc') + '</div></div>';
    }).join('');
  }

  // --- revenue / orders / AOV / customers by day and region --------------------------------
  function drawTrend(cur) {
    const metric = METRICS.find((m) => m.key === state.metric) || METRICS[0];
    const el = document.getElementById('trend');
    const regions = selectedRegions();
    const days = [...cur.days.keys()];
    document.getElementById('trend-title').textContent = metric.title;
    document.getElementById('trend-sub').textContent =
      (regions.length === D.regions.length ? 'All regions' : regions.map(regionLabel).join(', ')) +
      ' · ' + rangeFmt(state.from, state.to) + (metric.stack ? ' · stacked by region' : ' · one line per region');
    document.getElementById('trend-legend').innerHTML = regions.map((r) =>
      '<span><i' + (metric.stack ? '' : ' class="line"') + ' style="background:' + regionColor(r) + '"></i>' + esc(regionLabel(r)) + '</span>').join('') +
      (metric.stack ? '' : '<span><i class="line" style="background:#0f172a"></i>All selected</span>');
    if (!cur.orders) {
      el.innerHTML = empty('No orders in this period.');
      return;
    }
    const value = (day, r) => {
      const cell = day.regions[r];
      if (!cell) return metric.stack ? 0 : null;
      if (metric.key === 'aov') return cell.orders ? cell.revenue / cell.orders : null;
      return cell[metric.key];
    };
    const total = (day) => {
      if (metric.key === 'aov') return day.orders ? day.revenue / day.orders : null;
      return day[metric.key];
    };
    const f = frame(el, 300, { t: 14, r: 14, b: 46, l: 68 });
    let max = 0;
    for (const day of cur.days.values()) {
      if (metric.stack) max = Math.max(max, regions.reduce((a, r) => a + value(day, r), 0));
      else for (const r of regions) max = Math.max(max, value(day, r) || 0);
    }
    const scale = niceScale(max, 5);
    const band = f.pw / days.length;
    const xc = (i) => f.m.l + band * (i + 0.5);
    const y = (v) => f.m.t + f.ph - (v / scale.max) * f.ph;
    let out = svgOpen(f, metric.title) + yAxis(f, scale, metric.axisFmt, metric.axis);
    if (metric.stack) {
      const bw = Math.max(1, Math.min(46, band * 0.72));
      days.forEach((d, i) => {
        const day = cur.days.get(d);
        let base = 0;
        for (const r of regions) {
          const v = value(day, r);
          if (!v) continue;
          const y0 = y(base);
          const y1 = y(base + v);
          out += '<rect x="' + (xc(i) - bw / 2).toFixed(1) + '" y="' + y1.toFixed(1) + '" width="' + bw.toFixed(1) +
            '" height="' + Math.max(0.5, y0 - y1).toFixed(1) + '" fill="' + regionColor(r) + '"/>';
          base += v;
        }
      });
    } else {
      for (const r of regions) {
        const pts = days.map((d, i) => {
          const v = value(cur.days.get(d), r);
          return v == null ? null : [xc(i), y(v)];
        });
        out += '<path d="' + linePath(pts) + '" fill="none" stroke="' + regionColor(r) + '" stroke-width="2" stroke-linejoin="round"/>';
        if (days.length <= 45) {
          pts.forEach((p) => {
            if (p) out += '<circle cx="' + p[0].toFixed(1) + '" cy="' + p[1].toFixed(1) + '" r="2.6" fill="' + regionColor(r) + '"/>';
          });
        }
      }
      const overall = days.map((d, i) => {
        const v = total(cur.days.get(d));
        return v == null ? null : [xc(i), y(v)];
      });
      out += '<path d="' + linePath(overall) + '" fill="none" stroke="#0f172a" stroke-width="2.4" stroke-dasharray="5 4"/>';
    }
    out += xAxisDays(f, days, xc, 'Business date (UTC)');
    days.forEach((d, i) => {
      const day = cur.days.get(d);
      let rows = '';
      for (const r of regions) {
        const v = value(day, r);
        if (v != null && (v !== 0 || !metric.stack)) rows += tipRow(regionColor(r), regionLabel(r), metric.fmt(v));
      }
      rows += tipRow(null, metric.stack ? 'Total' : 'All selected', metric.fmt(total(day)), 'tot');
      out += '<rect class="hover-col" x="' + (f.m.l + band * i).toFixed(1) + '" y="' + f.m.t + '" width="' + band.toFixed(1) +
        '" height="' + f.ph + '"' + tip('<b>' + esc(dayFmt(d, { weekday: 'short', year: 'numeric' })) + '</b><table>' + rows + '</table>') + '/>';
    });
    el.innerHTML = out + '</svg>';
  }

  // --- regions table ---------------------------------------------------------------------
  function drawRegions(cur) {
    const el = document.getElementById('region-table');
    const rows = selectedRegions()
      .map((r) => Object.assign({ region: r }, cur.regions[r] || { revenue: 0, orders: 0, ids: new Set() }))
      .sort((a, b) => b.revenue - a.revenue);
    if (!cur.orders) {
      el.innerHTML = empty('No orders in this period.');
      return;
    }
    const best = Math.max.apply(null, rows.map((r) => r.revenue)) || 1;
    el.innerHTML = '<table class="regions"><thead><tr><th>Region</th><th class="n">Revenue</th>' +
      '<th class="n">Orders</th><th class="n">AOV</th></tr></thead><tbody>' +
      rows.map((r) => {
        const share = cur.revenue ? r.revenue / cur.revenue : 0;
        const aov = r.orders ? r.revenue / r.orders : null;
        return '<tr data-region-row="' + esc(r.region) + '"' + tip('<b>' + esc(regionLabel(r.region)) + '</b><table>' +
          tipRow(null, 'Revenue', money2(r.revenue)) + tipRow(null, 'Share of revenue', pct(share)) +
          tipRow(null, 'Orders', int(r.orders)) + tipRow(null, 'Customers', int(r.ids.size)) +
          tipRow(null, 'AOV', money2(aov)) + '</table>') + '>' +
          '<td class="name"><span class="sw-dot" style="background:' + regionColor(r.region) + '"></span>' +
          esc(regionLabel(r.region)) + '<div class="hbar share"><span style="width:' + (100 * r.revenue / best).toFixed(1) +
          '%;background:' + regionColor(r.region) + '"></span></div></td>' +
          '<td class="n">' + money0(r.revenue) + '<div class="sub">' + pct(share) + '</div></td>' +
          '<td class="n">' + int(r.orders) + '</td><td class="n">' + money2(aov) + '</td></tr>';
      }).join('') +
      '<tr class="total"><td>Total</td><td class="n">' + money0(cur.revenue) + '</td><td class="n">' +
      int(cur.orders) + '</td><td class="n">' + money2(cur.aov) + '</td></tr></tbody></table>';
  }

  // --- funnel ----------------------------------------------------------------------------
  function drawFunnel(cur) {
    const el = document.getElementById('funnel');
    const totals = [0, 0, 0, 0, 0];
    for (const row of D.funnel) {
      if (row[0] < state.from || row[0] > state.to) continue;
      for (let k = 0; k < 5; k++) totals[k] += row[k + 1];
    }
    document.getElementById('funnel-sub').textContent = 'Sessions by the furthest step reached · ' +
      rangeFmt(state.from, state.to) + (state.regions ? ' · all regions (clicks carry no region)' : '');
    document.getElementById('funnel-reconcile').textContent = reconcileFunnel(totals[4]);
    if (!totals[0]) {
      el.innerHTML = empty('No sessions in this period.');
      document.getElementById('conversion').innerHTML = '';
      return;
    }
    const f = frame(el, 5 * 40 + 8, { t: 4, r: 10, b: 4, l: 128 });
    let out = svgOpen(f, 'Clickstream funnel');
    const colors = ['#1e3a8a', '#2f5fd0', '#4f7fe0', '#7fa2ea', '#2a9d8f'];
    totals.forEach((n, k) => {
      const y = f.m.t + k * 40;
      const w = Math.max(2, (n / totals[0]) * f.pw);
      const ofAll = n / totals[0];
      const ofPrev = k ? (totals[k - 1] ? n / totals[k - 1] : null) : null;
      out += '<g' + tip('<b>' + esc(FUNNEL_STEPS[k]) + '</b><table>' + tipRow(null, 'Sessions', int(n)) +
        tipRow(null, 'Of all sessions', pct(ofAll, 2)) +
        (k ? tipRow(null, 'Of previous step', pct(ofPrev, 1)) : '') + '</table>') + '>';
      out += '<text class="bar-label" x="0" y="' + (y + 21) + '">' + esc(FUNNEL_STEPS[k]) + '</text>';
      out += '<rect x="' + f.m.l + '" y="' + (y + 4) + '" width="' + f.pw.toFixed(1) + '" height="28" rx="4" fill="#f1f5f9"/>';
      out += '<rect x="' + f.m.l + '" y="' + (y + 4) + '" width="' + w.toFixed(1) + '" height="28" rx="4" fill="' + colors[k] + '"/>';
      const label = int(n) + '  ·  ' + pct(ofAll, ofAll < 0.1 ? 2 : 1) + (k ? '  ·  ' + pct(ofPrev, 1) + ' of previous' : '');
      const inside = w > 250;
      out += '<text class="bar-value" x="' + (f.m.l + (inside ? 10 : w + 8)).toFixed(1) + '" y="' + (y + 22) +
        '" style="fill:' + (inside ? '#fff' : '#0f172a') + '">' + esc(label) + '</text></g>';
    });
    el.innerHTML = out + '</svg>';
    drawConversion(cur);
  }

  // Purchase sessions against the orders of the same days: web and app orders are bought
  // in a session, marketplace orders are not; what remains is said, not hidden.
  function reconcileFunnel(purchases) {
    let own = 0, marketplace = 0;
    for (const [d, channel, n] of D.channel_orders) {
      if (d < state.from || d > state.to) continue;
      if (channel === 'marketplace') marketplace += n; else own += n;
    }
    let text = 'Purchase sessions ' + int(purchases) + ' · web and app orders ' + int(own) +
      ' · marketplace orders ' + int(marketplace) + ' (bought outside the shop: no sessions)';
    const gap = purchases - own;
    if (gap) {
      text += ' · ' + int(Math.abs(gap)) + (gap > 0
        ? ' purchases without their order yet (order headers arrive later than clicks)'
        : ' web and app orders without a tracked purchase (late or missing clickstream)');
    }
    return text;
  }

  function drawConversion(cur) {
    const el = document.getElementById('conversion');
    const days = [...cur.days.keys()];
    const values = days.map((d) => {
      const day = cur.days.get(d);
      return day.sessions ? day.purchases / day.sessions : null;
    });
    const f = frame(el, 150, { t: 10, r: 14, b: 26, l: 56 });
    const max = Math.max.apply(null, values.filter((v) => v != null).concat([0]));
    const scale = niceScale(max * 1.1, 3);
    const band = f.pw / days.length;
    const xc = (i) => f.m.l + band * (i + 0.5);
    const y = (v) => f.m.t + f.ph - (v / scale.max) * f.ph;
    const pts = values.map((v, i) => (v == null ? null : [xc(i), y(v)]));
    let out = svgOpen(f, 'Conversion rate by day') + yAxis(f, scale, (v) => pct(v, scale.step < 0.01 ? 1 : 0), null);
    out += '<path d="' + linePath(pts) + '" fill="none" stroke="#2a9d8f" stroke-width="2.2" stroke-linejoin="round"/>';
    if (days.length <= 45) {
      pts.forEach((p) => {
        if (p) out += '<circle cx="' + p[0].toFixed(1) + '" cy="' + p[1].toFixed(1) + '" r="2.6" fill="#2a9d8f"/>';
      });
    }
    out += xAxisDays(f, days, xc, null);
    days.forEach((d, i) => {
      const day = cur.days.get(d);
      out += '<rect class="hover-col" x="' + (f.m.l + band * i).toFixed(1) + '" y="' + f.m.t + '" width="' + band.toFixed(1) +
        '" height="' + f.ph + '"' + tip('<b>' + esc(dayFmt(d, { weekday: 'short', year: 'numeric' })) + '</b><table>' +
        tipRow(null, 'Sessions', int(day.sessions)) + tipRow(null, 'With a purchase', int(day.purchases)) +
        tipRow(null, 'Conversion', pct(values[i], 2), 'tot') + '</table>') + '/>';
    });
    el.innerHTML = out + '</svg>';
  }

  // --- payments --------------------------------------------------------------------------
  function drawPayments() {
    const el = document.getElementById('payments');
    const byMethod = {};
    const statuses = new Set();
    let count = 0;
    let amount = 0;
    const byStatus = {};
    for (const [d, method, status, n, usd] of D.payments) {
      if (d < state.from || d > state.to) continue;
      const m = byMethod[method] || (byMethod[method] = { n: 0, usd: 0, statuses: {} });
      const s = m.statuses[status] || (m.statuses[status] = { n: 0, usd: 0 });
      m.n += n; m.usd += usd; s.n += n; s.usd += usd;
      count += n; amount += usd;
      byStatus[status] = (byStatus[status] || 0) + n;
      statuses.add(status);
    }
    const order = STATUS_ORDER.filter((s) => statuses.has(s)).concat([...statuses].filter((s) => !STATUS_ORDER.includes(s)).sort());
    document.getElementById('payments-sub').textContent = int(count) + ' payments, ' + money0(amount) + ' · ' +
      order.map((s) => s.replace(/_/g, ' ') + ' ' + pct(count ? byStatus[s] / count : null)).join(' · ') +
      (state.regions ? ' · all regions' : '');
    document.getElementById('payments-legend').innerHTML = order.map((s) =>
      '<span><i style="background:' + statusColor(s) + '"></i>' + esc(label(s)) + '</span>').join('');
    const methods = Object.keys(byMethod).sort((a, b) => byMethod[b].n - byMethod[a].n);
    if (!methods.length) {
      el.innerHTML = empty('No payments in this period.');
      return;
    }
    const row = 44;
    const f = frame(el, methods.length * row + 26, { t: 4, r: 110, b: 22, l: 132 });
    let out = svgOpen(f, 'Payment status mix');
    methods.forEach((method, k) => {
      const m = byMethod[method];
      const y = f.m.t + k * row;
      out += '<text class="bar-label" x="0" y="' + (y + 22) + '">' + esc(label(method)) + '</text>';
      let x = f.m.l;
      for (const s of order) {
        const cell = m.statuses[s];
        if (!cell) continue;
        const w = (cell.n / m.n) * f.pw;
        out += '<rect x="' + x.toFixed(1) + '" y="' + (y + 6) + '" width="' + Math.max(0.5, w - 1).toFixed(1) + '" height="24" fill="' +
          statusColor(s) + '"' + tip('<b>' + esc(label(method)) + ' · ' + esc(s) + '</b><table>' +
            tipRow(null, 'Payments', int(cell.n)) + tipRow(null, 'Share of ' + label(method).toLowerCase(), pct(cell.n / m.n)) +
            tipRow(null, 'Amount', money2(cell.usd)) + '</table>') + '/>';
        if (w > 44) {
          out += '<text x="' + (x + w / 2).toFixed(1) + '" y="' + (y + 22) + '" text-anchor="middle" fill="#fff" font-size="11.5" font-weight="600" pointer-events="none">' +
            esc(pct(cell.n / m.n, 0)) + '</text>';
        }
        x += w;
      }
      out += '<text class="bar-value" x="' + (f.m.l + f.pw + 10) + '" y="' + (y + 16) + '">' + esc(int(m.n)) + '</text>';
      out += '<text class="bar-note" x="' + (f.m.l + f.pw + 10) + '" y="' + (y + 31) + '">' + esc(money0(m.usd)) + '</text>';
    });
    out += '<g class="axis">' + [0, 0.25, 0.5, 0.75, 1].map((v) =>
      '<text x="' + (f.m.l + v * f.pw).toFixed(1) + '" y="' + (f.H - 6) + '" text-anchor="middle">' + pct(v, 0) + '</text>').join('') + '</g>';
    el.innerHTML = out + '</svg>';
  }

  // --- products --------------------------------------------------------------------------
  function drawProducts() {
    const el = document.getElementById('products');
    const inRegion = (r) => !state.regions || state.regions.has(r);
    const totals = new Map();
    let all = 0;
    for (const [d, r, p, units, usd] of D.product_sales) {
      if (d < state.from || d > state.to || !inRegion(r)) continue;
      const t = totals.get(p) || { units: 0, usd: 0 };
      t.units += units;
      t.usd += usd;
      totals.set(p, t);
      all += usd;
    }
    const top = [...totals.entries()].sort((a, b) => b[1].usd - a[1].usd || a[0] - b[0]).slice(0, 10);
    document.getElementById('products-sub').textContent = 'By sales in USD (order lines of revenue orders) · ' +
      int(totals.size) + ' products sold · ' + rangeFmt(state.from, state.to);
    if (!top.length) {
      el.innerHTML = empty('No sales in this period.');
      return;
    }
    const best = top[0][1].usd || 1;
    el.innerHTML = '<table id="top-products"><thead><tr><th class="rank">#</th><th>Product</th><th>Category</th>' +
      '<th class="n">Units</th><th class="n">Sales</th><th class="barcell">Share of sales</th></tr></thead><tbody>' +
      top.map(([p, t], i) => {
        const [key, name, category] = D.products[p];
        return '<tr data-product="' + esc(key) + '"><td class="rank">' + (i + 1) + '</td><td>' + esc(name) + '</td>' +
          '<td class="sub">' + esc(category) + '</td><td class="n">' + int(t.units) + '</td>' +
          '<td class="n">' + money0(t.usd) + '</td><td class="barcell"><div class="hbar"><span style="width:' +
          (100 * t.usd / best).toFixed(1) + '%;background:#3366cc"></span></div><span class="sub">' +
          smallPct(all ? t.usd / all : null) + '</span></td></tr>';
      }).join('') + '</tbody></table>';
  }

  // --- data quality ----------------------------------------------------------------------
  const testPill = { pass: 'good', warn: 'warn', fail: 'bad', error: 'bad', 'runtime error': 'bad', skipped: '' };
  const runPill = { success: 'good', warn: 'warn', failed: 'bad', abandoned: 'bad', running: '' };
  const pill = (text, cls) => '<span class="pill ' + (cls || '') + '">' + esc(text) + '</span>';

  function testsSection(tests) {
    if (!tests) {
      return '<section class="q-tests"><h3>dbt tests</h3><p class="card-sub">No run has recorded test results yet.</p></section>';
    }
    const counts = {};
    const kinds = {};
    for (const [, type, status] of tests.rows) {
      counts[status] = (counts[status] || 0) + 1;
      kinds[type] = (kinds[type] || 0) + 1;
    }
    const problems = tests.rows.filter((r) => r[2] !== 'pass');
    const passed = counts.pass || 0;
    const order = ['pass', 'warn', 'fail', 'error', 'runtime error', 'skipped'];
    const statuses = order.filter((s) => counts[s]).concat(Object.keys(counts).filter((s) => !order.includes(s)));
    const list = problems.slice(0, 6).map(([name, type, status, failures, message]) =>
      '<li>' + pill(status, testPill[status]) + ' <code>' + esc(name) + '</code>' +
      (failures ? ' <span class="sub">' + int(failures) + ' failing row' + (failures === 1 ? '' : 's') + '</span>' : '') +
      (message && status !== 'pass' ? '<span class="msg">' + esc(String(message).slice(0, 220)) + '</span>' : '') + '</li>').join('');
    return '<section class="q-tests" id="quality-tests"><h3>dbt tests <span class="sub">' + esc(stampFmt(tests.started_at)) + '</span></h3>' +
      '<div class="big">' + int(passed) + ' <small>of ' + int(tests.rows.length) + ' passed</small></div>' +
      '<div class="card-sub">' + Object.keys(kinds).sort().map((k) => int(kinds[k]) + ' ' + k.replace('_', ' ') + (kinds[k] === 1 ? '' : 's')).join(' · ') + '</div>' +
      '<div class="pills">' + statuses.map((s) => pill(int(counts[s]) + ' ' + s, testPill[s])).join('') + '</div>' +
      (problems.length
        ? '<ul class="problems">' + list + (problems.length > 6 ? '<li class="sub">and ' + (problems.length - 6) + ' more</li>' : '') + '</ul>'
        : '<p class="allgood">Every test passed.</p>') + '</section>';
  }

  // the failing rows the failed tests stored (audit schema), as the run saw them
  function failuresSection(failures) {
    if (!failures || !failures.rows.length) return '';
    const blocks = failures.rows.map(([name, relation, stored, sample]) => {
      const s = sample || {};
      const table = s.columns && s.columns.length
        ? '<table><thead><tr>' + s.columns.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr></thead><tbody>' +
          (s.rows || []).map((r) => '<tr>' + r.map((v) => '<td>' + esc(v == null ? '' : String(v)) + '</td>').join('') + '</tr>').join('') +
          '</tbody></table>'
        : '<p class="card-sub">' + esc(s.error || 'no rows could be read back') + '</p>';
      const anomaly = /(^|_)(volume_anomaly|quarantine_rate_anomaly|schema_change_anomaly|business_time_freshness)_/.test(name + '_');
      return '<div class="failure"><div>' + (anomaly ? pill('anomaly', 'warn') + ' ' : '') + '<code>' + esc(name) + '</code> <span class="sub">' +
        (stored == null ? '' : int(stored) + ' failing row' + (stored === 1 ? '' : 's') + ' · ') +
        'all of them in <code>' + esc(relation) + '</code></span></div>' + table + '</div>';
    }).join('');
    return '<section class="q-failures" id="quality-failures"><h3>Failing rows <span class="sub">first rows each failed or warned test stored, ' +
      esc(stampFmt(failures.started_at)) + '</span></h3>' + blocks + '</section>';
  }

  // columns the newest ingest that saw any delivered beyond the contract, or lacked
  function schemaSection(changes) {
    if (!changes || !changes.rows.length) return '';
    const rows = changes.rows.map(([dataset, kind, column, files]) =>
      '<tr data-dataset="' + esc(dataset) + '"><td>' + esc(dataset) + '</td><td>' +
      pill(kind === 'added' ? 'added' : 'vanished', kind === 'added' ? 'warn' : 'bad') + '</td><td><code>' + esc(column) +
      '</code></td><td class="n">' + int(files) + '</td></tr>').join('');
    return '<section class="q-schema" id="quality-schema"><h3>Schema changes <span class="sub">columns delivered that the contract lacks ' +
      '(added) or optional ones missing (vanished), ingest of ' + esc(stampFmt(changes.started_at)) + '</span></h3>' +
      '<table><thead><tr><th>Dataset</th><th>Change</th><th>Column</th><th class="n">Files</th></tr></thead><tbody>' +
      rows + '</tbody></table></section>';
  }

  function freshnessSection(freshness) {
    if (!freshness) {
      return '<section class="q-fresh"><h3>Source freshness</h3><p class="card-sub">No run has recorded source freshness yet.</p></section>';
    }
    const rows = freshness.rows.map(([source, loaded, age, warnH, errorH, status]) => {
      const limit = Math.max(errorH || 0, warnH || 0, age || 0) * 1.15 || 1;
      const color = status === 'pass' ? '#2a9d8f' : status === 'warn' ? '#e0a92c' : '#d1495b';
      const bar = '<div class="agebar"' + tip('<b>' + esc(source) + '</b><table>' + tipRow(null, 'Age', hours(age)) +
        tipRow(null, 'Warn after', hours(warnH)) + tipRow(null, 'Error after', hours(errorH)) + '</table>') + '>' +
        '<span style="width:' + Math.min(100, 100 * (age || 0) / limit).toFixed(1) + '%;background:' + color + '"></span>' +
        (warnH ? '<i style="left:' + (100 * warnH / limit).toFixed(1) + '%"></i>' : '') +
        (errorH ? '<i style="left:' + (100 * errorH / limit).toFixed(1) + '%;background:#b91c1c"></i>' : '') + '</div>';
      return '<tr data-source="' + esc(source) + '"><td>' + esc(source) + '</td><td>' + esc(stampFmt(loaded)) + '</td>' +
        '<td class="n">' + hours(age) + '</td><td class="n">' + hours(warnH) + ' / ' + hours(errorH) + '</td>' +
        '<td class="barcell">' + bar + '</td><td>' + pill(status, testPill[status] != null ? testPill[status] : 'bad') + '</td></tr>';
    }).join('');
    return '<section class="q-fresh" id="quality-freshness"><h3>Source freshness <span class="sub">newest load against the SLA, checked ' +
      esc(stampFmt(freshness.started_at)) + '</span></h3><table><thead><tr><th>Source</th><th>Last loaded</th>' +
      '<th class="n">Age</th><th class="n">Warn / error after</th><th class="barcell">Age vs SLA</th><th>Status</th></tr></thead><tbody>' +
      rows + '</tbody></table></section>';
  }

  function quarantineSection(q, latest, wide) {
    const latestBy = {};
    if (latest) for (const [dataset, read, quarantined] of latest.rows) latestBy[dataset] = { read, quarantined };
    const worst = Math.max.apply(null, q.datasets.map((d) => d.rate || 0).concat([0])) || 1;
    const rows = q.datasets.map((d) => {
      const l = latestBy[d.dataset];
      const reasons = d.reasons.slice(0, 3).map(([reason, n]) => pill(reason.replace(/_/g, ' ') + ' ' + int(n))).join('') +
        (d.reasons.length > 3 ? '<span class="sub"' + tip('<b>' + esc(d.dataset) + '</b><table>' + d.reasons.map(([reason, n]) => tipRow(null, reason, int(n))).join('') + '</table>') + '>+' + (d.reasons.length - 3) + ' more</span>' : '');
      const over = d.over_threshold ? ' ' + pill('above ' + smallPct(q.threshold), 'warn') : '';
      return '<tr data-dataset="' + esc(d.dataset) + '"' + (d.over_threshold ? ' class="over-threshold"' : '') + '><td>' + esc(d.dataset) + over + '</td><td class="n">' + int(d.read) + '</td>' +
        '<td class="n">' + int(d.quarantined) + '</td><td class="n">' + smallPct(d.rate) + '</td>' +
        '<td class="ratebar"><div class="hbar"><span style="width:' + (100 * (d.rate || 0) / worst).toFixed(1) +
        '%;background:#d1495b"></span></div></td>' +
        (latest ? '<td class="n">' + (l ? int(l.quarantined) + ' <span class="sub">of ' + int(l.read) + '</span>' : '–') + '</td>' : '') +
        '<td><div class="reasons">' + (reasons || '<span class="sub">none</span>') + '</div></td></tr>';
    }).join('');
    const total = q.datasets.reduce((a, d) => a + d.quarantined, 0);
    const read = q.datasets.reduce((a, d) => a + d.read, 0);
    const crossed = q.datasets.filter((d) => d.over_threshold).map((d) => d.dataset);
    const warning = q.threshold == null ? '' : crossed.length
      ? '<p class="threshold" id="quality-threshold">' + pill('warn', 'warn') + ' Quarantine rate above the ' + smallPct(q.threshold) +
        ' threshold' + (latest ? ' in the latest run' : '') + ': <b>' + esc(crossed.join(', ')) + '</b></p>'
      : '<p class="threshold sub" id="quality-threshold">Every dataset is within the ' + smallPct(q.threshold) + ' quarantine threshold.</p>';
    return '<section class="q-quar' + (wide ? ' wide' : '') + '" id="quality-quarantine"' + (wide ? ' style="grid-column: span 12"' : '') + '>' +
      '<h3>Quarantine <span class="sub">' + int(total) + ' of ' + int(read) + ' records rejected (' + smallPct(read ? total / read : null) +
      ') over ' + int(q.ingest_runs) + ' ingest run' + (q.ingest_runs === 1 ? '' : 's') + '; kept with their reason in quarantine/</span></h3>' + warning +
      '<table><thead><tr><th>Dataset</th><th class="n">Read</th><th class="n">Quarantined</th><th class="n">Rate</th><th class="ratebar"></th>' +
      (latest ? '<th class="n" title="Quarantined of records read by the latest recorded run">Latest run</th>' : '') + '<th>Top reasons</th></tr></thead><tbody>' + rows + '</tbody></table></section>';
  }

  // Which rates the USD figures use, and the amounts no usable rate could convert
  // (null *_usd: left out of the USD figures, never converted with a wrong rate).
  function ratesSection(r) {
    if (!r || r.missing == null) return '';
    const source = r.source === 'feed' ? 'the delivered exchange-rates feed'
      : r.source === 'demo' ? 'the bundled demo rates (no exchange-rates feed delivered yet)'
        : 'no rates: USD amounts only';
    const head = '<h3>Exchange rates <span class="sub">USD figures converted with ' + esc(source) + '</span></h3>';
    if (!r.missing.length) {
      return '<section class="q-rates" id="quality-rates" style="grid-column: span 12">' + head +
        '<p class="sub">Every amount has a usable rate (that day\'s, or at most 7 days older).</p></section>';
    }
    const rows = r.missing.map(([fact, currency, day, records, amount]) =>
      '<tr data-missing="' + esc(currency + '/' + day) + '"><td>' + esc(currency) + '</td><td>' + esc(day) + '</td><td>' + esc(fact) +
      '</td><td class="n">' + int(records) + '</td><td class="n">' + esc(String(amount)) + '</td></tr>').join('');
    return '<section class="q-rates" id="quality-rates" style="grid-column: span 12">' + head +
      '<p class="threshold">' + pill('warn', 'warn') + ' ' + int(r.missing.length) +
      ' (currency, day) pairs without a usable rate: their amounts have no USD value and are left out of the USD figures</p>' +
      '<table><thead><tr><th>Currency</th><th>Day</th><th>Fact</th><th class="n">Records</th><th class="n">Amount</th></tr></thead><tbody>' +
      rows + '</tbody></table></section>';
  }

  function runsSection(runs) {
    return '<section class="q-runs" id="quality-runs"><h3>Recent runs</h3><table><thead><tr><th>Started</th><th>Status</th>' +
      '<th class="n">Took</th></tr></thead><tbody>' + runs.map((r) =>
        '<tr data-run="' + esc(r.run_id) + '"' + (r.error || r.failed_step ? tip('<b>' + esc(r.run_id) + '</b><br>' + esc(r.failed_step ? 'failed at ' + r.failed_step + ': ' : '') +
          esc(String(r.error || '').slice(0, 300))) : (r.warnings || []).length ? tip('<b>' + esc(r.run_id) + '</b>' +
          r.warnings.map((w) => '<br>' + esc(String(w).slice(0, 300))).join('')) : '') + '><td>' + esc(stampFmt(r.started_at)) +
        (r.failed_step ? '<div class="sub">at ' + esc(r.failed_step) + '</div>' : '') + '</td><td>' + pill(r.status, runPill[r.status]) + '</td>' +
        '<td class="n">' + (r.seconds == null ? '–' : r.seconds < 120 ? r.seconds.toFixed(1) + ' s' : (r.seconds / 60).toFixed(1) + ' min') + '</td></tr>').join('') +
      '</tbody></table></section>';
  }

  function drawQuality() {
    const h = D.quality.history;
    const q = D.quality.quarantine;
    document.getElementById('quality-sub').textContent =
      'Health of the pipeline that feeds these figures (not affected by the filters)' +
      (h.recorded ? ' · latest run ' + stampFmt(h.runs[0].started_at) + ', ' + h.runs[0].status : '');
    let html = '<div class="quality-grid">';
    if (!h.recorded) {
      html += '<div class="norun" id="quality-norun"><strong>No runs recorded yet.</strong>' +
        '<code>shoplake run</code> records each run\'s dbt test results, source freshness and timings in the ' +
        'warehouse (schema <code>' + esc(D.quality.history_schema) + '</code>); they appear here after the next run.</div>';
      html += quarantineSection(q, null, true);
    } else {
      html += testsSection(h.tests) + freshnessSection(h.freshness) + failuresSection(h.failures) + schemaSection(h.schema_changes) +
        quarantineSection(q, h.datasets, false) + runsSection(h.runs);
    }
    html += ratesSection(D.quality.exchange_rates);
    document.getElementById('quality').innerHTML = html + '</div>';
  }

  // --- everything ------------------------------------------------------------------------
  function render() {
    tips = [];
    tipEl.hidden = true;
    const cur = summarize(state.from, state.to, state.regions);
    const n = spanDays(state.from, state.to);
    const prevFrom = addDays(state.from, -n);
    const prevTo = addDays(state.from, -1);
    const prev = prevFrom >= D.first_day ? summarize(prevFrom, prevTo, state.regions) : null;
    drawFilters();
    drawKpis(cur, prev, prevFrom, prevTo);
    drawTrend(cur);
    drawRegions(cur);
    drawFunnel(cur);
    drawPayments();
    drawProducts();
    drawQuality();
    document.body.setAttribute('data-rendered', state.from + '/' + state.to + '/' + (state.regions ? [...state.regions].join(',') : 'all'));
  }

  drawHeader();
  render();
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 150);
  });
})();
