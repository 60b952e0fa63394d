package pii

// Dictionaries for the Chinese-text detectors. Kept small on purpose:
// names and addresses are reported only when the dictionary and the
// surrounding structure agree (precision over recall).

// surnames are common single-character surnames (the top ~200 cover the
// great majority of the population).
const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"

// compoundSurnames are two-character surnames.
var compoundSurnames = []string{"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "公孙", "长孙", "宇文", "司徒", "夏侯", "端木", "独孤", "南宫", "西门", "轩辕", "呼延"}

// nameContext are words after which a Chinese name is expected.
var nameContext = []string{"姓名", "乘客", "旅客", "收件人", "收货人", "寄件人", "联系人", "客户", "持卡人", "申请人",
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

// titles follow a surname in place of a given name: 王经理, 李先生.
var titles = []string{"先生", "女士", "小姐", "经理", "老师", "总", "师傅", "同学", "主任", "医生", "律师", "警官", "阿姨", "大爷", "老板", "部长", "局长", "处长", "科长", "董事长", "总监", "教授", "博士"}

// addressContext are words after which an address is expected.
var addressContext = []string{"地址", "住址", "收货地址", "家庭住址", "通讯地址", "居住地", "户籍地", "现住址", "送货地址", "住所"}

// divisions are province-level divisions and large cities that start an
// address.
var divisions = []string{
	"北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
	"江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省",
	"广西壮族自治区", "海南省", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省",
	"宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区", "台湾省",
	"北京", "天津", "上海", "重庆", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
	"福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "四川", "贵州", "云南", "西藏",
	"陕西", "甘肃", "青海", "宁夏", "新疆",
	"石家庄市", "太原市", "呼和浩特市", "沈阳市", "大连市", "长春市", "哈尔滨市", "南京市", "苏州市", "无锡市",
	"杭州市", "宁波市", "温州市", "合肥市", "福州市", "厦门市", "南昌市", "济南市", "青岛市", "郑州市", "武汉市",
	"长沙市", "广州市", "深圳市", "东莞市", "佛山市", "珠海市", "南宁市", "海口市", "三亚市", "成都市", "贵阳市",
	"昆明市", "拉萨市", "西安市", "兰州市", "西宁市", "银川市", "乌鲁木齐市", "唐山市", "保定市", "烟台市",
	"潍坊市", "徐州市", "常州市", "南通市", "绍兴市", "嘉兴市", "金华市", "台州市", "泉州市", "洛阳市", "宜昌市",
	"襄阳市", "株洲市", "惠州市", "中山市", "江门市", "汕头市", "绵阳市", "遵义市", "柳州市", "桂林市",
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
	for _, r := range surnames {
		t[r] |= anchorSurname
	}
	for _, s := range compoundSurnames {
		t[first(s)] |= anchorCompound
	}
	for r := rune(0xFF10); r <= 0xFF19; r++ {
		t[r] |= anchorDigit
	}
	for _, r := range "〇零一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖" {
		t[r] |= anchorDigit
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
