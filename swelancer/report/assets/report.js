(function () {
  var table = document.getElementById('tasks');
  if (!table) return;
  var body = table.tBodies[0];
  var filter = document.getElementById('filter');
  var count = document.getElementById('shown');
  function update() {
    var q = filter.value.toLowerCase(), n = 0;
    for (var i = 0; i < body.rows.length; i++) {
      var row = body.rows[i];
      var hit = row.textContent.toLowerCase().indexOf(q) >= 0;
      row.style.display = hit ? '' : 'none';
      if (hit) n++;
    }
    count.textContent = n + ' of ' + body.rows.length + ' tasks';
  }
  filter.addEventListener('input', update);
  var heads = table.tHead.rows[0].cells;
  for (var c = 0; c < heads.length; c++) {
    (function (col) {
      var th = heads[col];
      if (!th.dataset.sort) return;
      th.addEventListener('click', function () {
        var numeric = th.dataset.sort === 'n';
        var dir = th.dataset.dir === 'asc' ? -1 : 1;
        th.dataset.dir = dir === 1 ? 'asc' : 'desc';
        var list = Array.prototype.slice.call(body.rows);
        list.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          if (numeric) { x = parseFloat(x); y = parseFloat(y);
            x = isNaN(x) ? -1 : x; y = isNaN(y) ? -1 : y; }
          return x < y ? -dir : x > y ? dir : 0;
        });
        list.forEach(function (row) { body.appendChild(row); });
      });
    })(c);
  }
  update();
  document.documentElement.dataset.ready = 'yes';
})();
