package dbscan

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-dev/custos/scan"
)

type collect struct {
	findings []scan.Finding
	notes    []scan.Note
}

func (c *collect) Finding(f scan.Finding) error { c.findings = append(c.findings, f); return nil }
func (c *collect) Note(n scan.Note) error       { c.notes = append(c.notes, n); return nil }

// Synthetic people: identifiers with valid check digits, made up.
var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"}
	roads    = []string{"北京市海淀区中关村大街", "上海市浦东新区世纪大道", "广东省深圳市南山区科技园路", "浙江省杭州市西湖区文三路", "四川省成都市武侯区人民南路"}
	prefixes = []string{"138", "139", "150", "186", "177", "199", "135", "158"}
	regions  = []string{"110105", "310115", "440305", "330106", "510107"}
)

func idCheck(body string) byte {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * w[i]
	}
	return "10X98765432"[sum%11]
}

type person struct {
	name, mobile, id, email, address, remark, product, orderNo string
	birthday                                                   time.Time
}

func people(n int) []person {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]person, n)
	for i := range out {
		b := time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		if i%10 == 3 { // a child
			b = time.Now().AddDate(-5-r.IntN(5), 0, -r.IntN(300)).Truncate(24 * time.Hour)
		}
		body := regions[r.IntN(len(regions))] + b.Format("20060102") + fmt.Sprintf("%03d", r.IntN(1000))
		p := person{
			name:     string(surnames[r.IntN(len(surnames))]) + given[r.IntN(len(given))],
			mobile:   prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%08d", r.IntN(100000000)),
			id:       body + string(idCheck(body)),
			email:    fmt.Sprintf("user%d.test@example.com", i),
			address:  fmt.Sprintf("%s%d号%d室", roads[r.IntN(len(roads))], 1+r.IntN(200), 100+r.IntN(900)),
			remark:   "客户要求周末送货",
			product:  []string{"保温杯", "蓝牙耳机", "机械键盘", "登山包"}[r.IntN(4)],
			orderNo:  fmt.Sprintf("ORD%d%08d", 2024, r.IntN(100000000)),
			birthday: b,
		}
		if i%5 == 0 {
			p.remark = "请改为联系 " + prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%08d", r.IntN(100000000))
		}
		out[i] = p
	}
	return out
}

// seed creates the test tables in db with dialect-specific types.
func seed(t *testing.T, db *sql.DB, d string) {
	t.Helper()
	text, id := "TEXT", "INTEGER PRIMARY KEY"
	switch d {
	case "postgres":
		id = "serial PRIMARY KEY"
	case "mysql":
		text, id = "VARCHAR(200)", "INT AUTO_INCREMENT PRIMARY KEY"
	}
	q := func(name string) string {
		if d == "mysql" {
			return "`" + name + "`"
		}
		return `"` + name + `"`
	}
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE customers (id %s, %s %s, mobile %s, id_card %s, email %s, %s %s, remark %s, birthday DATE, created_at TIMESTAMP, empty_phone %s)`,
			id, q("姓名"), text, text, text, text, q("家庭住址"), text, text, text),
		fmt.Sprintf(`CREATE TABLE orders (id %s, order_no %s, product_name %s, amount DECIMAL(10,2))`, id, text, text),
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	ph := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if i > 1 {
				b.WriteString(", ")
			}
			if d == "postgres" {
				fmt.Fprintf(&b, "$%d", i)
			} else {
				b.WriteString("?")
			}
		}
		return b.String()
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	insC := fmt.Sprintf(`INSERT INTO customers (%s, mobile, id_card, email, %s, remark, birthday, created_at) VALUES (%s)`, q("姓名"), q("家庭住址"), ph(8))
	insO := fmt.Sprintf(`INSERT INTO orders (order_no, product_name, amount) VALUES (%s)`, ph(3))
	for i, p := range people(300) {
		bday := any(p.birthday)
		if d == "sqlite" {
			bday = p.birthday.Format("2006-01-02")
		}
		if _, err := tx.Exec(insC, p.name, p.mobile, p.id, p.email, p.address, p.remark, bday, time.Date(2024, 5, 1, 10, i%60, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(insO, p.orderNo, p.product, float64(i)+0.5); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	switch d {
	case "postgres":
		db.Exec("ANALYZE")
	case "mysql":
		db.Exec("ANALYZE TABLE customers, orders")
	}
}

// check runs the scan and asserts the classification every backend must
// reach on the seeded tables.
func check(t *testing.T, dsn string, wantRows bool) {
	t.Helper()
	var got collect
	sum, err := Scan(context.Background(), dsn, Options{Sample: 200}, &got)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.notes) != 0 {
		t.Fatalf("notes: %v", got.notes)
	}
	if sum.Tables != 2 || sum.Columns != 14 {
		t.Errorf("summary: %d tables %d columns, want 2 and 14", sum.Tables, sum.Columns)
	}
	best := map[string]scan.Finding{} // table.column → strongest finding
	for _, f := range got.findings {
		k := f.Table + "." + f.Column
		if _, ok := best[k]; !ok {
			best[k] = f
		}
		if f.System == "" || strings.Contains(f.System, "@") {
			t.Errorf("system %q: missing or carries credentials", f.System)
		}
		if f.Value != "" && !strings.Contains(f.Value, "*") {
			t.Errorf("%s: example value not masked", k)
		}
	}
	for _, tc := range []struct {
		column, typ, basis string
		min                float64
		sensitive          bool
	}{
		{"customers.mobile", "cn_mobile", "values+name", 0.9, false},
		{"customers.id_card", "cn_id", "values+name", 0.9, true},
		{"customers.email", "email", "values+name", 0.9, false},
		{"customers.姓名", "cn_name", "", 0.6, true},
		{"customers.家庭住址", "cn_address", "", 0.6, false},
		{"customers.remark", "cn_mobile", "values", 0.5, false},
		{"customers.birthday", "date_of_birth", "", 0.4, true},
		{"customers.empty_phone", "cn_mobile", "name", 0.4, false},
	} {
		f, ok := best[tc.column]
		if !ok {
			t.Errorf("%s: no finding", tc.column)
			continue
		}
		if f.Type != tc.typ || f.Confidence < tc.min || (tc.basis != "" && f.Basis != tc.basis) || f.Sensitive != tc.sensitive && tc.typ != "cn_address" {
			t.Errorf("%s: %s %.2f basis %s sensitive %v; want %s ≥ %.2f basis %q sensitive %v", tc.column, f.Type, f.Confidence, f.Basis, f.Sensitive, tc.typ, tc.min, tc.basis, tc.sensitive)
		}
		if wantRows && f.RowEstimate < 100 {
			t.Errorf("%s: row estimate %d, want about 300", tc.column, f.RowEstimate)
		}
	}
	if best["customers.remark"].Confidence >= best["customers.mobile"].Confidence {
		t.Errorf("a remark column with some phones (%.2f) should rank below a phone column (%.2f)", best["customers.remark"].Confidence, best["customers.mobile"].Confidence)
	}
	minors := 0
	for _, f := range got.findings {
		if f.Column == "id_card" && f.Category == "minor" && f.Sensitive {
			minors = f.Matched
		}
	}
	if minors < 10 || minors > 30 {
		t.Errorf("id_card: %d IDs of children reported, want about 20 of 200", minors)
	}
	// The transaction the scan reads in refuses writes.
	db, d, _, err := open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: d.name != "sqlite"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO orders (order_no) VALUES ('scan wrote here')"); err == nil {
		t.Error("the scan's transaction accepted a write")
	}
	tx.Rollback()
	for _, k := range []string{"orders.order_no", "orders.product_name", "orders.amount", "customers.created_at", "customers.id"} {
		if f, ok := best[k]; ok {
			t.Errorf("%s: unexpected finding %s %.2f (%s)", k, f.Type, f.Confidence, f.Basis)
		}
	}
}

func requireService(t *testing.T, name string, err error) {
	t.Helper()
	if os.Getenv("CUSTOS_REQUIRE_SERVICES") != "" {
		t.Fatalf("%s unreachable: %v", name, err)
	}
	t.Skipf("%s unreachable (set CUSTOS_REQUIRE_SERVICES to fail instead): %v", name, err)
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, db, "sqlite")
	db.Close()
	check(t, "sqlite:"+path, true)
}

func TestPostgres(t *testing.T) {
	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		requireService(t, "PostgreSQL", err)
	}
	name := fmt.Sprintf("custos_scan_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		admin.Close()
	})
	dsn := "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, db, "postgres")
	db.Close()
	check(t, dsn, true)
}

func TestMariaDB(t *testing.T) {
	admin, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		requireService(t, "MariaDB", err)
	}
	name := fmt.Sprintf("custos_scan_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		admin.Close()
	})
	db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+name+"?parseTime=true")
	if err != nil {
		t.Fatal(err)
	}
	seed(t, db, "mysql")
	db.Close()
	check(t, "mysql://root@127.0.0.1:3306/"+name, true)
}

// TestReadOnly proves the scan's transaction refuses writes: a table
// with a trigger-free insert attempted through the same path fails.
func TestReadOnlyTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec("CREATE TABLE t (x TEXT)")
	db.Close()
	ro, _, _, err := open("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Exec("INSERT INTO t VALUES ('a')"); err == nil {
		t.Fatal("insert through the scan's connection succeeded")
	}
}

func TestNameHint(t *testing.T) {
	for _, tc := range []struct{ col, want string }{
		{"mobile", "cn_mobile"}, {"MobilePhone", "cn_mobile"}, {"手机号码", "cn_mobile"}, {"contact_tel", "cn_mobile"},
		{"id_card", "cn_id"}, {"IDCardNo", "cn_id"}, {"身份证号", "cn_id"}, {"sfzh", "cn_id"},
		{"姓名", "cn_name"}, {"user_name", "cn_name"}, {"customerName", "cn_name"},
		{"email", "email"}, {"E_Mail", "email"}, {"联系邮箱", "email"},
		{"home_address", "cn_address"}, {"家庭住址", "cn_address"},
		{"birthday", "date_of_birth"}, {"出生日期", "date_of_birth"}, {"dob", "date_of_birth"},
		{"bank_card_no", "bank_card"}, {"client_ip", "ipv4"}, {"lat", "geo_coord"},
		{"id", ""}, {"filename", ""}, {"hostname", ""}, {"username", ""}, {"created_at", ""}, {"description", ""},
		{"ship", ""}, {"tip", ""},
	} {
		if got := nameHint(tc.col); got != tc.want {
			t.Errorf("nameHint(%q) = %q, want %q", tc.col, got, tc.want)
		}
	}
}

func TestIsDSN(t *testing.T) {
	for arg, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h/db": true, "mysql://root@h/db": true, "sqlite:a.db": true,
		"./data": false, "report.csv": false, "sqlite.db": false,
	} {
		if IsDSN(arg) != want {
			t.Errorf("IsDSN(%q) != %v", arg, want)
		}
	}
}
