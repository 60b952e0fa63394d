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

// divisions are province-level divisions and prefecture-level cities that
// start an address.
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
	// other prefecture-level cities
	"邯郸市", "邢台市", "张家口市", "承德市", "沧州市", "廊坊市", "衡水市", "秦皇岛市", "大同市", "阳泉市", "长治市", "晋城市", "朔州市", "晋中市", "运城市",
	"忻州市", "临汾市", "吕梁市", "包头市", "乌海市", "赤峰市", "通辽市", "鄂尔多斯市", "呼伦贝尔市", "鞍山市", "抚顺市", "本溪市", "丹东市", "锦州市", "营口市",
	"阜新市", "辽阳市", "盘锦市", "铁岭市", "朝阳市", "葫芦岛市", "吉林市", "四平市", "辽源市", "通化市", "白山市", "松原市", "白城市", "齐齐哈尔市", "鸡西市",
	"鹤岗市", "双鸭山市", "大庆市", "伊春市", "佳木斯市", "七台河市", "牡丹江市", "黑河市", "绥化市", "连云港市", "淮安市", "盐城市", "扬州市", "镇江市",
	"泰州市", "宿迁市", "湖州市", "衢州市", "舟山市", "丽水市", "芜湖市", "蚌埠市", "淮南市", "马鞍山市", "淮北市", "铜陵市", "安庆市", "黄山市", "滁州市",
	"阜阳市", "宿州市", "六安市", "亳州市", "池州市", "宣城市", "莆田市", "三明市", "漳州市", "南平市", "龙岩市", "宁德市", "景德镇市", "萍乡市", "九江市",
	"新余市", "鹰潭市", "赣州市", "吉安市", "宜春市", "抚州市", "上饶市", "淄博市", "枣庄市", "东营市", "济宁市", "泰安市", "威海市", "日照市", "临沂市",
	"德州市", "聊城市", "滨州市", "菏泽市", "开封市", "平顶山市", "安阳市", "鹤壁市", "新乡市", "焦作市", "濮阳市", "许昌市", "漯河市", "三门峡市", "南阳市",
	"商丘市", "信阳市", "周口市", "驻马店市", "黄石市", "十堰市", "鄂州市", "荆门市", "孝感市", "荆州市", "黄冈市", "咸宁市", "随州市", "湘潭市", "衡阳市",
	"邵阳市", "岳阳市", "常德市", "张家界市", "益阳市", "郴州市", "永州市", "怀化市", "娄底市", "韶关市", "湛江市", "茂名市", "肇庆市", "梅州市", "汕尾市",
	"河源市", "阳江市", "清远市", "潮州市", "揭阳市", "云浮市", "梧州市", "北海市", "防城港市", "钦州市", "贵港市", "玉林市", "百色市", "贺州市", "河池市",
	"来宾市", "崇左市", "儋州市", "自贡市", "攀枝花市", "泸州市", "德阳市", "广元市", "遂宁市", "内江市", "乐山市", "南充市", "眉山市", "宜宾市", "广安市",
	"达州市", "雅安市", "巴中市", "资阳市", "六盘水市", "安顺市", "毕节市", "铜仁市", "曲靖市", "玉溪市", "保山市", "昭通市", "丽江市", "普洱市", "临沧市",
	"铜川市", "宝鸡市", "咸阳市", "渭南市", "延安市", "汉中市", "榆林市", "安康市", "商洛市", "嘉峪关市", "金昌市", "白银市", "天水市", "武威市", "张掖市",
	"平凉市", "酒泉市", "庆阳市", "定西市", "陇南市", "海东市", "石嘴山市", "吴忠市", "固原市", "中卫市", "克拉玛依市", "吐鲁番市", "哈密市",
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
	for _, r := range surnames {
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

// pairKey hashes the first two characters of a dictionary word.
func pairKey(r1, r2 rune) uint32 { return uint32(r1*40503+r2) & 0xFFFF }

// pairBits is the set of pairKeys of all label and division words: most
// anchor characters (上, 大, 本…) start no word in the text at hand, and
// two characters tell so before any map lookup.
var pairBits = func() *[1 << 10]uint64 {
	var b [1 << 10]uint64
	add := func(ws []string) {
		for _, w := range ws {
			rs := []rune(w)
			k := pairKey(rs[0], rs[1])
			b[k>>6] |= 1 << (k & 63)
		}
	}
	add(nameContext)
	add(addressContext)
	add(divisions)
	return &b
}()

// pairAt reports whether the character r at text[i] and the next one may
// start a dictionary word.
func pairAt(text []byte, i int, r rune) bool {
	k := pairKey(r, decode3(text, i+3))
	return pairBits[k>>6]&(1<<(k&63)) != 0
}
