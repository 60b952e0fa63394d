package pii

import (
	_ "embed"
	"strings"
	"unicode/utf8"
)

// Dictionaries for the Chinese-text detectors. Names and addresses are
// reported only when the dictionary and the surrounding structure agree
// (precision over recall): a bigger dictionary finds more, but a word in
// it alone is never a match.

// The surname and division dictionaries are data files written by hand
// (pii/data; docs/discovery.md says what they hold), embedded so that the
// binary needs nothing at run time.
var (
	//go:embed data/surnames.txt
	surnamesData string
	//go:embed data/divisions.txt
	divisionsData string
)

// commonSurnameRank is how far down the frequency ranking a surname may be
// for a name found without a label (a list field before a phone number):
// rarer surnames there are more often ordinary words than names.
const commonSurnameRank = 300

// surnameDict is the parsed surname list: single-character surnames with
// their frequency rank (1 = 王), and compound surnames.
type surnameDict struct {
	rank     map[rune]int
	single   []rune
	compound []string
}

var surnameList = parseSurnames(surnamesData)

func parseSurnames(data string) surnameDict {
	d := surnameDict{rank: make(map[rune]int)}
	section := ""
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line == "single" || line == "compound" {
			section = line
			continue
		}
		for _, w := range strings.Fields(line) {
			switch section {
			case "single":
				r, size := utf8.DecodeRuneInString(w)
				if size != len(w) {
					panic("pii: surname data: not one character: " + w)
				}
				if _, dup := d.rank[r]; !dup {
					d.single = append(d.single, r)
					d.rank[r] = len(d.single)
				}
			case "compound":
				d.compound = append(d.compound, w)
			}
		}
	}
	return d
}

// compoundSurnames are two-character surnames.
var compoundSurnames = surnameList.compound

// nameContext are words after which a Chinese name is expected.
var nameContext = []string{"姓名", "乘客", "旅客", "收件人", "收货人", "寄件人", "联系人", "联络人", "客户", "持卡人", "申请人",
	"户主", "患者", "病人", "入住人", "住客", "借款人", "贷款人", "投保人", "被保险人", "受益人", "法定代表人", "法人",
	"经办人", "开户人", "开户名", "户名", "车主", "业主", "租客", "承租人", "监护人", "家长", "学生", "员工", "职工",
	"被告人", "原告", "当事人", "考生", "会员", "用户", "收款人", "付款人", "签收人", "报案人", "访客"}

// nameStop are words that may follow a name directly in running text.
var nameStop = []string{"先生", "女士", "小姐", "同学", "老师", "的", "在", "于", "已", "您", "预订", "购买", "办理",
	"来自", "身份", "电话", "手机", "联系", "地址", "性别", "男", "女", "年龄", "等", "和", "与", "及", "说", "称", "到", "是",
	"驾驶", "来电", "签字", "签收", "表示", "因", "向", "从", "被", "将", "把", "对", "为", "也", "都", "就", "又", "还", "曾", "今天", "昨天"}

// nameStopChar are single characters that end a name when they follow a
// two-character given name candidate: in 客户张伟在… the name is 张伟.
const nameStopChar = "的在于已等和与及说称到是因向从被将把对为也都就又还曾"

// nameWords are ordinary words that begin with a surname character and
// follow name labels in forms and tables (学生成绩, 户主关系, 客户经理,
// 会员等级 …): after a label they are not names.
var nameWords = []string{"成绩", "成员", "成功", "成交", "成本", "关系", "关于", "关注", "关联", "关闭", "明细", "全部", "全称",
	"应用", "应收", "应付", "时间", "文件", "文化", "高级", "金额", "安全", "安装", "方式", "方法", "向导", "商品", "商户", "单位",
	"单号", "余额", "程序", "周期", "车辆", "车型", "项目", "连接", "费用", "管理", "简介", "房产", "房屋", "房间", "解决",
	"包括", "包含", "任务", "任职", "万元", "常用", "常见", "严重", "经理", "顾问", "季度", "段落", "齐全", "易于", "景点",
	"卫生", "宗旨", "全国", "明天", "明年", "曲线", "马上", "高速", "许可", "谢谢", "雷达", "毛巾", "史料",
	"石油", "龙头", "钱包", "武器", "章节", "牛奶", "施工", "文字", "康复", "华为", "江湖", "于是", "方向", "田园",
	"冷链", "宁可", "计划", "师傅", "简称", "司机", "邮箱", "陆续", "信息", "代码", "卢布", "甘肃", "吉祥", "古代", "党员",
	"和平", "时候", "米饭", "毕业", "骆驼", "苏州", "杭州", "江苏", "金融", "林业", "梁柱", "申请", "沈阳"}

// nameWordSet holds nameWords (all two characters, six bytes) for one
// map lookup per name candidate.
var nameWordSet = func() map[string]bool {
	m := make(map[string]bool, len(nameWords))
	for _, w := range nameWords {
		if len(w) != 6 {
			panic("pii: nameWords: not two characters: " + w)
		}
		m[w] = true
	}
	return m
}()

// titles follow a surname in place of a given name: 王经理, 李先生.
var titles = []string{"先生", "女士", "小姐", "经理", "老师", "总", "师傅", "同学", "主任", "医生", "律师", "警官", "阿姨", "大爷", "老板", "部长", "局长", "处长", "科长", "董事长", "总监", "教授", "博士"}

// addressContext are words after which an address is expected.
var addressContext = []string{"地址", "住址", "收货地址", "家庭住址", "通讯地址", "居住地", "户籍地", "现住址", "送货地址", "住所"}

// provinceShort are the short forms of the provincial-level divisions
// that start addresses as written (北京朝阳区…, 广东深圳…). Shorter forms
// of cities and counties are not used: 朝阳, 中山, 东方 are words.
var provinceShort = []string{"北京", "天津", "上海", "重庆", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
	"福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "四川", "贵州", "云南", "西藏",
	"陕西", "甘肃", "青海", "宁夏", "新疆"}

// divisions are the names that start an address: provincial-level
// divisions (full and short), every prefecture-level division, and the
// county-level divisions of the data file. County-level names of two
// characters ending in 区 (城区, 郊区, 东区…) are left out: they are words.
var divisions = parseDivisions(divisionsData)

func parseDivisions(data string) []string {
	seen := make(map[string]bool)
	var out []string
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "#" {
			continue
		}
		switch f[0] {
		case "P":
			add(f[1])
		case "C":
			add(f[1])
			for _, w := range f[2:] {
				if utf8.RuneCountInString(w) == 2 && strings.HasSuffix(w, "区") {
					continue
				}
				add(w)
			}
		}
	}
	for _, w := range provinceShort {
		add(w)
	}
	return out
}

// plateProvinces are the one-character province abbreviations on plates.
const plateProvinces = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

// Anchor flags of a Han character.
const (
	anchorPlate = 1 << iota
	anchorName
	anchorAddress
	anchorAddressContext
	anchorDigit
	anchorRoad     // 路街道… in an address
	anchorNumber   // 号室栋… in an address
	anchorSurname  // single-character surname
	anchorCompound // first character of a compound surname
	anchorStop     // first character of a word that may follow a name
)

// anchors[r] says which detectors a BMP character can start.
var anchors = func() *[0x10000]uint16 {
	var t [0x10000]uint16
	first := func(s string) rune {
		for _, r := range s {
			return r
		}
		return 0
	}
	for _, r := range plateProvinces {
		t[r] |= anchorPlate
	}
	for _, w := range nameContext {
		t[first(w)] |= anchorName
	}
	for _, w := range divisions {
		t[first(w)] |= anchorAddress
	}
	for _, w := range addressContext {
		t[first(w)] |= anchorAddressContext
	}
	for _, r := range roadMarks {
		t[r] |= anchorRoad
	}
	for _, r := range numberMarks {
		t[r] |= anchorNumber
	}
	for _, r := range surnameList.single {
		t[r] |= anchorSurname
	}
	for _, s := range compoundSurnames {
		t[first(s)] |= anchorCompound
	}
	for _, s := range nameStop {
		t[first(s)] |= anchorStop
	}
	for r := rune(0xFF10); r <= 0xFF19; r++ {
		t[r] |= anchorDigit
	}
	for _, r := range "〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖" {
		t[r] |= anchorDigit
	}
	// a traditional character does what its simplified one does (fold.go),
	// but spells no digit: cnDigit reads simplified numerals only
	for si, trs := range tradForms {
		for _, tr := range trs {
			t[tr] |= t[si] &^ anchorDigit
		}
	}
	return &t
}()

// anchorBits has a bit set for every character that starts a detector
// (plate, name, address, digit); road, number and surname flags alone
// start nothing.
var anchorBits = func() *[1 << 10]uint64 {
	var b [1 << 10]uint64
	for r, f := range anchors {
		if f&(anchorPlate|anchorName|anchorAddress|anchorAddressContext|anchorDigit) != 0 {
			b[r>>6] |= 1 << (r & 63)
		}
	}
	return &b
}()

// The first pass's Han loop decides most anchors itself. mustStopBits
// marks the characters it always hands to d.cjk (full-width digits; plate
// provinces go only before a capital, see hanPasses); wordBits those that start dictionary words (names,
// labels, divisions), for which it tests pairAt first; numeralBits the
// Chinese numerals: one followed by a Han character that is not a digit
// (十二。, 三月, 一个) is a one-digit run, which no type is. A character
// with both (二 of 二七区) is skipped only when both tests fail.
var mustStopBits, wordBits, numeralBits = func() (*[1 << 10]uint64, *[1 << 10]uint64, *[1 << 10]uint64) {
	var m, w, d [1 << 10]uint64
	for r, f := range anchors {
		bit := uint64(1) << (r & 63)
		if f&anchorDigit != 0 && cnDigit(rune(r)) == 0 {
			m[r>>6] |= bit
		}
		if f&(anchorName|anchorAddress|anchorAddressContext) != 0 {
			w[r>>6] |= bit
		}
		if f&anchorDigit != 0 && cnDigit(rune(r)) != 0 {
			d[r>>6] |= bit
		}
	}
	return &m, &w, &d
}()

// hanFlags drives hanSkip, the part of the Han loop that runs without a
// branch per character. It is indexed by the 16 bits a 3-byte UTF-8
// sequence carries (also when decode3 rejects them: overlong forms and
// surrogates). The low bits say what may make the character start
// something:
//   - hanMust: always (mustStopBits); plate provinces never here, as a
//     plate needs a capital right after the character and hanSkip only
//     passes one followed by another 3-byte character;
//   - hanWord: the pair filter says it and the next character may start
//     a dictionary word (wordBits);
//   - hanNum: a Chinese numeral (numeralBits), when a digit may go on
//     with the next character (numeralGoesOn);
//   - hanPlate: a plate province, for the last character of a run (the
//     loop's test ignores it: no character's hanNext half has that bit).
//
// The bits from hanNext up say what the character allows the one before
// it, shifted to line up with those: hanMust always; hanNum when it is
// one a digit may go on with; all three when decode3 rejects it (pairAt
// and numeralGoesOn would see 0), so that the per-character test decides.
// A character with no bits of its own passes whatever follows it, as in
// hanPasses.
const (
	hanMust = 1 << iota
	hanWord
	hanNum
	hanPlate

	hanNext = 4
)

// The table has three bytes more than it has characters: skipVec reads
// four bytes at each index.
var hanFlags = func() *[0x10000 + 3]uint8 {
	var t [0x10000 + 3]uint8
	var b [3]byte
	for r := range 0x10000 {
		// the bytes hanSkip decodes r from, and what decode3 makes of them
		b[0], b[1], b[2] = 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F)
		nx := decode3(b[:], 0)
		f := uint8(hanMust) << hanNext
		if nx == 0 {
			f |= (hanMust | hanWord | hanNum) << hanNext
		} else {
			k, bit := nx>>6, uint64(1)<<(nx&63)
			if mustStopBits[k]&bit != 0 {
				f |= hanMust
			}
			if wordBits[k]&bit != 0 {
				f |= hanWord
			}
			if numeralBits[k]&bit != 0 {
				f |= hanNum
			}
			if anchors[nx]&anchorPlate != 0 {
				f |= hanPlate
			}
			if cnDigit(nx) != 0 || nx >= 0xFF10 && nx <= 0xFF19 {
				f |= hanNum << hanNext
			}
		}
		t[r] = f
	}
	return &t
}()

// pairLog is the size of the pair filter in bits (2^18 bits, 32 KiB).
// About 4,600 pairs are set: a pair of characters that starts no word
// passes with a chance of under 2 % (at 2^16 bits it was 7 %, and on prose
// the Han loop stopped at a few common pairs such as 常。 for nothing).
const pairLog = 18

// pairKey hashes the first two characters of a dictionary word
// (multiplicative hashing of the 32-bit pair, top pairLog bits).
func pairKey(r1, r2 rune) uint32 {
	return (uint32(r1)<<16 ^ uint32(r2)) * 0x9E3779B1 >> (32 - pairLog)
}

// pairBits is the set of pairKeys of all label and division words: most
// anchor characters (上, 大, 本…) start no word in the text at hand, and
// two characters tell so before any map lookup.
var pairBits = func() *[1 << (pairLog - 6)]uint64 {
	var b [1 << (pairLog - 6)]uint64
	eachPair(func(r1, r2 rune) {
		k := pairKey(r1, r2)
		b[k>>6] |= 1 << (k & 63)
	})
	return &b
}()

// eachPair calls fn with the first two characters of every label and
// division word, and of every traditional spelling of them (fold.go).
func eachPair(fn func(r1, r2 rune)) {
	for _, ws := range [][]string{nameContext, addressContext, divisions} {
		for _, w := range ws {
			rs := []rune(w)
			for _, a := range append([]rune{rs[0]}, tradForms[rs[0]]...) {
				for _, c := range append([]rune{rs[1]}, tradForms[rs[1]]...) {
					fn(a, c)
				}
			}
		}
	}
}

// pairAt reports whether the character r at text[i] and the next one may
// start a dictionary word.
func pairAt(text []byte, i int, r rune) bool {
	k := pairKey(r, decode3(text, i+3))
	return pairBits[k>>6]&(1<<(k&63)) != 0
}
