package corpus

import (
	"fmt"
	"strings"
)

// Names and places for the generator. They are written here, separately
// from the detector's dictionaries (pii/data), and drawn through other
// paths than a dictionary lookup would take — by frequency weights, with
// a tail of rare surnames, and as addresses that start at any level of the
// hierarchy (province, city, county, or a town and village below a
// county) — so that the evaluation measures the dictionaries' coverage
// instead of replaying them. Some of the rare surnames are deliberately
// absent from the detector's list: their labels count as misses.

// commonSurnames are ranked by frequency (most frequent first); name
// draws them with weights falling as 1/rank.
var commonSurnames = []rune("王李张刘陈杨黄赵吴周徐孙马胡朱郭何罗高林郑梁谢唐许冯宋韩邓彭曹曾田于肖潘袁董叶杜丁蒋程余吕魏蔡苏任卢沈姜姚钟崔陆谭汪石付贾范金方韦夏廖侯白孟邹秦尹江熊薛邱闫段雷季史陶毛贺龙万顾关郝孔向龚邵钱武扈戴严欧莫覃洪常汤康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝黎傅萧阎温")

// rareSurnames are real but rare surnames, drawn for one name in 25.
// 仉, 禚, 笪, 璩 and 怀 are not in the detector's list.
var rareSurnames = []rune("亓郗佴逄钭荀郦宦汲邴糜宓郏酆狄茹阙钮庾暨闾嵩雒郇芈郄綦揭芮邸昝訾邰缑桓蒯辜戈仉禚笪璩怀")

// compounds are compound surnames, drawn for one name in 30.
var compounds = []string{"欧阳", "司马", "诸葛", "上官", "司徒", "皇甫", "令狐", "慕容", "尉迟", "公孙", "夏侯", "端木", "长孙", "宇文", "呼延", "申屠", "澹台", "钟离"}

// givenPool are characters of given names (none of them a word that
// usually follows a name, such as 的 or 在).
var givenPool = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏建国志文斌浩宇欣怡子涵梓萱一诺雨轩晨思嘉琪佳怡梦瑶婷欣悦雅琳俊熙博文浩然皓轩宇航晓东海燕春梅秋菊冬雪德福永庆金龙凤霖逸辰昊天泽锦程心语若汐紫琼蕾薇慧颖洁翠莲卫东振华立新晓光红梅淑珍秀兰桂芝")

// surnameCDF is the cumulative 1/rank weight of commonSurnames.
var surnameCDF = func() []float64 {
	c := make([]float64, len(commonSurnames))
	sum := 0.0
	for i := range commonSurnames {
		sum += 1 / float64(i+1)
		c[i] = sum
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}()

func (g *Generator) surname() string {
	switch {
	case g.r.IntN(30) == 0:
		return g.pick(compounds)
	case g.r.IntN(25) == 0:
		return string(rareSurnames[g.r.IntN(len(rareSurnames))])
	}
	u := g.r.Float64()
	for i, c := range surnameCDF {
		if u <= c {
			return string(commonSurnames[i])
		}
	}
	return string(commonSurnames[0])
}

func (g *Generator) name() string {
	s := g.surname() + string(givenPool[g.r.IntN(len(givenPool))])
	if g.r.IntN(3) != 0 {
		s += string(givenPool[g.r.IntN(len(givenPool))])
	}
	return s
}

// places are "province city county" (province empty for the
// municipalities, county empty for cities without counties), spread over
// every provincial division and over districts, county-level cities,
// counties, banners and autonomous prefectures.
var places = []string{
	" 北京市 海淀区", " 北京市 朝阳区", " 北京市 通州区", " 上海市 浦东新区", " 上海市 闵行区", " 上海市 嘉定区",
	" 天津市 滨海新区", " 天津市 南开区", " 重庆市 渝中区", " 重庆市 万州区", " 重庆市 酉阳土家族苗族自治县",
	"河北省 保定市 涿州市", "河北省 邯郸市 武安市", "河北省 石家庄市 正定县", "山西省 晋中市 平遥县", "山西省 太原市 小店区",
	"内蒙古自治区 鄂尔多斯市 伊金霍洛旗", "内蒙古自治区 呼和浩特市 赛罕区", "辽宁省 大连市 甘井子区", "辽宁省 沈阳市 浑南区",
	"吉林省 延边朝鲜族自治州 延吉市", "吉林省 长春市 南关区", "黑龙江省 哈尔滨市 南岗区", "黑龙江省 大庆市 萨尔图区",
	"江苏省 苏州市 昆山市", "江苏省 南京市 鼓楼区", "江苏省 徐州市 沛县", "浙江省 金华市 义乌市", "浙江省 杭州市 余杭区",
	"浙江省 温州市 乐清市", "安徽省 阜阳市 临泉县", "安徽省 合肥市 蜀山区", "福建省 泉州市 晋江市", "福建省 厦门市 思明区",
	"江西省 赣州市 于都县", "江西省 南昌市 红谷滩区", "山东省 临沂市 兰山区", "山东省 潍坊市 寿光市", "山东省 青岛市 黄岛区",
	"河南省 周口市 项城市", "河南省 郑州市 金水区", "河南省 南阳市 邓州市", "湖北省 恩施土家族苗族自治州 利川市",
	"湖北省 武汉市 洪山区", "湖南省 湘西土家族苗族自治州 凤凰县", "湖南省 长沙市 岳麓区", "广东省 佛山市 顺德区",
	"广东省 深圳市 南山区", "广东省 东莞市 ", "广东省 湛江市 雷州市", "广西壮族自治区 桂林市 阳朔县", "广西壮族自治区 南宁市 青秀区",
	"海南省 三亚市 吉阳区", "海南省 儋州市 ", "四川省 凉山彝族自治州 西昌市", "四川省 成都市 武侯区", "四川省 绵阳市 江油市",
	"贵州省 黔东南苗族侗族自治州 凯里市", "贵州省 遵义市 仁怀市", "云南省 大理白族自治州 大理市", "云南省 昆明市 官渡区",
	"西藏自治区 拉萨市 城关区", "陕西省 榆林市 神木市", "陕西省 西安市 雁塔区", "甘肃省 天水市 秦州区", "甘肃省 兰州市 城关区",
	"青海省 海东市 乐都区", "宁夏回族自治区 吴忠市 利通区", "新疆维吾尔自治区 伊犁哈萨克自治州 伊宁市",
	"新疆维吾尔自治区 乌鲁木齐市 天山区",
}

var roadNames = []string{"建国路", "中山路", "人民大道", "科技园路", "解放街", "文一西路", "长安街", "滨江大道", "和平里", "学院路",
	"花园街", "新华路", "迎宾大道", "胜利街", "工业园路", "团结路", "朝阳北路", "幸福里", "青年路", "东风街", "南京西路", "黄河路"}

var towns = []string{"城关镇", "柳林镇", "新华镇", "太平镇", "河东乡", "马庄镇", "石桥镇", "龙泉乡"}
var villages = []string{"西关村", "南峪村", "张庄村", "李家村", "王家营村", "前进村", "红旗村", "新建村"}

// address writes an address starting at the province, the city or the
// county, or a rural one with a town and a village.
func (g *Generator) address() string {
	f := strings.SplitN(g.pick(places), " ", 3)
	prov, city, county := f[0], f[1], f[2]
	var a string
	switch k := g.r.IntN(10); {
	case k < 4 || county == "":
		a = prov + city + county
	case k < 7:
		a = city + county
	default:
		a = county
	}
	if g.r.IntN(5) == 0 && county != "" && !strings.HasSuffix(county, "区") {
		// Rural: a town and a village under a county.
		return a + g.pick(towns) + g.pick(villages) + fmt.Sprintf("%d号", 1+g.r.IntN(300))
	}
	a += g.pick(roadNames) + fmt.Sprintf("%d号", 1+g.r.IntN(999))
	switch g.r.IntN(4) {
	case 0:
		a += fmt.Sprintf("%d栋%d单元%d室", 1+g.r.IntN(30), 1+g.r.IntN(6), 101+g.r.IntN(2500))
	case 1:
		a += fmt.Sprintf("%s座%d室", string("ABCD"[g.r.IntN(4)]), 101+g.r.IntN(3000))
	case 2:
		a += g.pick([]string{"阳光花园", "金地小区", "万科城", "锦绣家园"}) + fmt.Sprintf("%d号楼%d室", 1+g.r.IntN(20), 101+g.r.IntN(1800))
	}
	return a
}
