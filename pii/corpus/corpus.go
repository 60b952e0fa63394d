package corpus

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/custos-dev/custos"
)

// Label is one piece of personal information in generated text.
type Label struct {
	Type   custos.DataType
	Offset int // bytes from the start of the generated text
	Length int // bytes
}

// Generator produces lines of labelled text. Its output is a function of
// the seed alone.
type Generator struct {
	r      *rand.Rand
	buf    []byte
	labels []Label
}

// New returns a generator seeded with seed.
func New(seed int64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(uint64(seed), 0x637573746f73))}
}

// Line appends one line (ending in '\n') to dst and its labels, with
// offsets relative to the start of dst, to labels.
func (g *Generator) Line(dst []byte, labels []Label) ([]byte, []Label) {
	g.buf, g.labels = dst, labels
	templates[g.r.IntN(len(templates))](g)
	g.text("\n")
	return g.buf, g.labels
}

// Generate returns at least size bytes of whole lines and their labels.
func Generate(seed int64, size int) ([]byte, []Label) {
	g := New(seed)
	var text []byte
	var labels []Label
	for len(text) < size {
		text, labels = g.Line(text, labels)
	}
	return text, labels
}

// Write writes at least size bytes of generated lines to w, for scan
// benchmarks, and returns the number of bytes written. The same seed and
// size always produce the same bytes.
func Write(w io.Writer, size int64, seed int64) (int64, error) {
	g := New(seed)
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var line []byte
	var labels []Label
	for n < size {
		line, labels = g.Line(line[:0], labels[:0])
		k, err := bw.Write(line)
		n += int64(k)
		if err != nil {
			return n, fmt.Errorf("corpus: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("corpus: write: %w", err)
	}
	return n, nil
}

func (g *Generator) text(s string) { g.buf = append(g.buf, s...) }

// pii writes s and labels it as t.
func (g *Generator) pii(t custos.DataType, s string) {
	g.labels = append(g.labels, Label{Type: t, Offset: len(g.buf), Length: len(s)})
	g.buf = append(g.buf, s...)
}

func (g *Generator) one(ss ...string) string { return ss[g.r.IntN(len(ss))] }

// filler writes a sentence with no personal information.
func (g *Generator) filler() {
	g.text(g.one(
		"今天系统例行维护，请注意保存数据。", "会议纪要已上传至共享目录，请大家查阅。", "本季度业绩同比增长百分之十二。",
		"The quarterly report is attached for review. ", "Please reset your password before Friday. ",
		"客户满意度调查将于下周一开始。", "第一季度共处理工单三千二百件，", "北京时间下午三点召开全体会议。",
		"Build finished in 42.7s with 0 errors. ", "请在上海的同事于周五前提交材料。", "一二三四五，上山打老虎。",
		"如有疑问请联系客服。", "Thanks, see you at the meeting. ", "新版本已发布，欢迎体验。",
	))
}

// negative writes a hard negative: text shaped like personal data that is
// not, or fails its check.
func (g *Generator) negative() {
	switch g.r.IntN(32) {
	case 28: // a title, not a name
		g.text(g.one("联系人：", "客户", "收件人 ") + string(commonSurnames[g.r.IntN(60)]) + g.one("经理", "先生", "女士", "老师", "总", "师傅", "小姐") + "，")
	case 29: // a firmware version shaped like an IPv4 address
		g.text(fmt.Sprintf("firmware version %d.%d.%d.%d ", 1+g.r.IntN(9), g.r.IntN(20), g.r.IntN(10), g.r.IntN(200)))
	case 30: // a 16-digit reference number with no label: sometimes passes Luhn and an issuer prefix
		g.text("ref " + string(rune('1'+g.r.IntN(9))) + g.digits(15) + " ")
	case 31: // Chinese numerals that are a quantity, not digits
		g.text("共计一千二百三十四万五千六百七十八元，")
	case 18:
		g.text("user_id=" + string(rune('1'+g.r.IntN(9))) + g.digits(15) + " ")
	case 19:
		g.text("QQ " + string(rune('1'+g.r.IntN(9))) + g.digits(8+g.r.IntN(2)) + "，")
	case 20:
		g.text("msg_id 1" + g.digits(18) + " ")
	case 21:
		g.text(g.one("客户服务中心将于明日升级，", "用户体验调查已结束，", "学生会换届选举，", "员工食堂今日供应午餐，", "乘客须知：请提前到达，", "联系人列表已同步，",
			"学生成绩单已发布，", "户主关系：父子，", "客户经理负责跟进，", "会员等级提升，", "客户国籍：中国，", "城区人口增长，新区建设加快，"))
	case 22:
		g.text(g.one("北京市朝阳区的天气不错，", "上海市人民政府发布通知，", "广东省深圳市举办科技展，", "浙江省杭州市西湖区街道办发布公告，"))
	case 23:
		g.text(fmt.Sprintf("第%d号文件，中山路施工，", 1+g.r.IntN(99)))
	case 24:
		g.text(fmt.Sprintf("mac %02x:%02x:%02x:%02x:%02x:%02x at %02d:%02d:%02d ", g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60)))
	case 25:
		g.text(fmt.Sprintf("工号 %06d，分机 %04d，", g.r.IntN(1000000), g.r.IntN(10000)))
	case 26:
		g.text("std::vector<int> a; b.c::d ")
	case 27:
		g.text(fmt.Sprintf("温度 %d.%d℃，湿度 %d%%，", 10+g.r.IntN(25), g.r.IntN(10), g.r.IntN(100)))
	case 0:
		g.text("订单号：2024" + g.digits(12+g.r.IntN(4)) + " ")
	case 1:
		g.text("运单号 SF" + g.digits(12) + "，")
	case 2:
		g.text("tracking JD00" + g.digits(11) + " ")
	case 3:
		g.text(fmt.Sprintf("ts=17%s ts_ms=17%s ", g.digits(8), g.digits(11)))
	case 4:
		g.text("sha1 " + g.hex(40) + " ")
	case 5:
		g.text("md5:" + g.hex(32) + " ")
	case 6:
		g.text(fmt.Sprintf("request_id %s-%s-4%s-a%s-%s ", g.hex(8), g.hex(4), g.hex(3), g.hex(3), g.hex(12)))
	case 7:
		g.text("卡号（作废）：" + g.badCard() + "，")
	case 8:
		g.text("证件号（校验失败）：" + g.badCNID() + "，")
	case 9:
		g.text("号码 " + g.badMobile() + " 无效，")
	case 10:
		g.text(fmt.Sprintf("金额 ¥%d.%02d，", g.r.IntN(100000), g.r.IntN(100)))
	case 11:
		g.text(fmt.Sprintf("版本 v%d.%d.%d ", g.r.IntN(5), g.r.IntN(20), g.r.IntN(100)))
	case 12:
		g.text("ORDER2024" + g.digits(10) + " ")
	case 13:
		g.text(fmt.Sprintf("创建时间 2024-%02d-%02d %02d:%02d:%02d ", 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60)))
	case 14:
		g.text("SKU-" + g.digits(8) + " 库存 " + g.digits(3) + " 件，")
	case 15:
		g.text("流水号 " + g.digits(20) + " ")
	case 16:
		g.text(fmt.Sprintf("第%d页，共%d页。", 1+g.r.IntN(9), 10+g.r.IntN(90)))
	default:
		g.text("invoice INV-" + g.digits(10) + ", ")
	}
}

func (g *Generator) hex(n int) string {
	const h = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = h[g.r.IntN(16)]
	}
	return string(b)
}

// templates write one line each.
var templates = []func(g *Generator){
	func(g *Generator) { // passenger record
		g.text(g.one("乘客姓名：", "旅客 ", "乘客："))
		g.pii(custos.TypeCNName, g.name())
		g.text("，证件号码：")
		g.pii(custos.TypeCNID, g.idForm(g.cnID()))
		g.text("，联系电话：")
		g.pii(custos.TypeCNMobile, g.mobileForm(g.mobile()))
		g.text("，订座记录编号 ")
		g.pii(custos.TypeFlightPNR, g.pnr())
		g.text("，航班 CA" + g.digits(4) + "。")
	},
	func(g *Generator) { // parcel
		g.text("收件人：")
		g.pii(custos.TypeCNName, g.name())
		g.text(" 手机 ")
		g.pii(custos.TypeCNMobile, g.mobileForm(g.mobile()))
		g.text(" 收货地址：")
		if g.r.IntN(3) == 0 {
			g.pii(custos.TypeCNAddress, g.addressNoDivision())
		} else {
			g.pii(custos.TypeCNAddress, g.address())
		}
		g.text("；")
		g.negative()
	},
	func(g *Generator) { // bank
		g.text("持卡人")
		g.pii(custos.TypeCNName, g.name())
		g.text("，卡号 ")
		g.pii(custos.TypeBankCard, g.cardForm(g.card()))
		g.text("，开户行：招商银行。")
		g.filler()
	},
	func(g *Generator) { // web log
		g.text(fmt.Sprintf("2024-%02d-%02dT%02d:%02d:%02dZ INFO login user=", 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60)))
		g.pii(custos.TypeEmail, g.email())
		g.text(" ip=")
		if g.r.IntN(3) == 0 {
			g.pii(custos.TypeIPv6, g.ipv6())
		} else {
			g.pii(custos.TypeIPv4, g.ipv4())
		}
		g.text(fmt.Sprintf(" latency=%dms status=200 ", g.r.IntN(900)))
		g.negative()
	},
	func(g *Generator) { // company
		g.text("统一社会信用代码：")
		g.pii(custos.TypeCNUSCC, g.uscc())
		g.text("，法定代表人：")
		g.pii(custos.TypeCNName, g.name())
		g.text("，注册地址：")
		g.pii(custos.TypeCNAddress, g.address())
		g.text("。")
	},
	func(g *Generator) { // international
		g.text("Contact ")
		g.pii(custos.TypeIntlPhone, g.intlPhone())
		g.text(", IBAN ")
		ib := g.iban()
		if g.r.IntN(2) == 0 {
			ib = grouped(ib, " ", 4, 4, 4, 4, 4, 4, 4)
		}
		g.pii(custos.TypeIBAN, ib)
		g.text(", SSN ")
		g.pii(custos.TypeUSSSN, g.ssn())
		g.text(". ")
		g.negative()
	},
	func(g *Generator) { // travel documents
		g.text("护照号码 ")
		g.pii(custos.TypeCNPassport, g.passport())
		g.text("，港澳通行证 ")
		g.pii(custos.TypeHKMOPermit, g.permit())
		g.text("，香港身份证 ")
		g.pii(custos.TypeHKID, g.hkid())
		g.text("，台湾身份证 ")
		g.pii(custos.TypeTWID, g.twid())
		g.text("。")
	},
	func(g *Generator) { // device and location
		g.text("设备 IMEI ")
		g.pii(custos.TypeIMEI, g.imei())
		g.text(" 定位 ")
		g.pii(custos.TypeGeoCoord, g.geo())
		g.text(" 来源 ")
		g.pii(custos.TypeIPv4, g.ipv4())
		g.text("；")
		g.filler()
	},
	func(g *Generator) { // vehicle
		g.text("车牌号")
		g.pii(custos.TypeCNPlate, g.plate())
		g.text("，车主 ")
		g.pii(custos.TypeCNName, g.name())
		g.text("，违章地点：")
		g.pii(custos.TypeCNAddress, g.address())
		g.text("。")
	},
	func(g *Generator) { // personnel
		g.text("员工")
		g.pii(custos.TypeCNName, g.name())
		g.text("，出生日期：")
		y, m, d := g.birth()
		g.pii(custos.TypeDateOfBirth, g.date(y, m, d))
		g.text("，办公电话 ")
		g.pii(custos.TypeCNLandline, g.landline())
		g.text("，入职日期 " + g.date(2000+g.r.IntN(25), 1+g.r.IntN(12), 1+g.r.IntN(28)) + "。")
	},
	func(g *Generator) { // legacy ID and evasions
		g.text(g.one("老身份证 ", "身份证 "))
		g.pii(custos.TypeCNID, g.cnID15())
		g.text("，私下联系")
		g.pii(custos.TypeCNMobile, g.mobileForm(g.mobile()))
		g.text("，别写在工单里。")
	},
	func(g *Generator) { // English record
		g.text("Customer DOB ")
		y, m, d := g.birth()
		g.pii(custos.TypeDateOfBirth, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
		g.text(", email ")
		g.pii(custos.TypeEmail, g.email())
		g.text(", card ")
		g.pii(custos.TypeBankCard, g.cardForm(g.card()))
		g.text(". ")
		g.negative()
	},
	func(g *Generator) { // a note: a name right before the number's own label
		g.text(g.one("经查，", "据反映，", "备注："))
		g.pii(custos.TypeCNName, g.name())
		if g.r.IntN(2) == 0 {
			g.text(g.one("（身份证", "，身份证号 "))
			g.pii(custos.TypeCNID, g.cnID())
		} else {
			g.text(g.one("（手机", "，电话："))
			g.pii(custos.TypeCNMobile, g.mobile())
		}
		g.text(g.one("）于当日办理了补卡。", "，已核实。"))
	},
	func(g *Generator) { // CSV row without labels in the line: names are missed by design
		g.pii(custos.TypeCNName, g.name())
		g.text(",")
		g.pii(custos.TypeCNMobile, g.mobile())
		g.text(",")
		g.pii(custos.TypeCNID, g.cnID())
		g.text(",")
		g.pii(custos.TypeEmail, g.email())
	},
	func(g *Generator) { g.filler(); g.negative(); g.negative(); g.filler() },
	func(g *Generator) { g.negative(); g.filler(); g.negative() },
	func(g *Generator) { g.filler(); g.filler() },
}
