//! The words the data is made of: names, places, companies, products and the
//! phrases of follow-ups, revisits and complaints. The enum values here are
//! the ones the pack's forms allow.

use crate::rng::Rng;

/// Common surnames with their pinyin and a weight roughly following how common they are.
pub const SURNAMES: &[(&str, &str, u32)] = &[
    ("王", "wang", 72), ("李", "li", 71), ("张", "zhang", 68), ("刘", "liu", 54), ("陈", "chen", 46), ("杨", "yang", 33),
    ("黄", "huang", 24), ("赵", "zhao", 23), ("吴", "wu", 21), ("周", "zhou", 21), ("徐", "xu", 15), ("孙", "sun", 15),
    ("马", "ma", 14), ("朱", "zhu", 13), ("胡", "hu", 12), ("郭", "guo", 12), ("何", "he", 11), ("林", "lin", 10),
    ("高", "gao", 10), ("罗", "luo", 10), ("郑", "zheng", 9), ("梁", "liang", 9), ("谢", "xie", 8), ("宋", "song", 7),
    ("唐", "tang", 7), ("许", "xu", 7), ("韩", "han", 6), ("冯", "feng", 6), ("邓", "deng", 6), ("曹", "cao", 6),
    ("彭", "peng", 6), ("曾", "zeng", 5), ("肖", "xiao", 5), ("田", "tian", 5), ("董", "dong", 5), ("袁", "yuan", 5),
    ("潘", "pan", 4), ("于", "yu", 4), ("蒋", "jiang", 4), ("蔡", "cai", 4), ("余", "yu", 4), ("杜", "du", 4),
    ("叶", "ye", 4), ("程", "cheng", 4), ("苏", "su", 4), ("魏", "wei", 4), ("吕", "lv", 4), ("丁", "ding", 4),
    ("任", "ren", 3), ("沈", "shen", 3), ("姚", "yao", 3), ("卢", "lu", 3), ("姜", "jiang", 3), ("崔", "cui", 3),
    ("钟", "zhong", 3), ("谭", "tan", 3), ("陆", "lu", 3), ("汪", "wang", 3), ("范", "fan", 3), ("金", "jin", 3),
    ("石", "shi", 3), ("廖", "liao", 3), ("贾", "jia", 3), ("夏", "xia", 3), ("韦", "wei", 2), ("付", "fu", 2),
    ("方", "fang", 2), ("白", "bai", 2), ("邹", "zou", 2), ("孟", "meng", 2), ("熊", "xiong", 2), ("秦", "qin", 2),
    ("邱", "qiu", 2), ("江", "jiang", 2), ("尹", "yin", 2), ("薛", "xue", 2), ("闫", "yan", 2), ("段", "duan", 2),
    ("雷", "lei", 2), ("侯", "hou", 2), ("龙", "long", 2), ("史", "shi", 2), ("陶", "tao", 2), ("黎", "li", 2),
    ("贺", "he", 2), ("顾", "gu", 2), ("毛", "mao", 2), ("郝", "hao", 2), ("龚", "gong", 2), ("邵", "shao", 2),
    ("万", "wan", 2), ("钱", "qian", 2), ("严", "yan", 2), ("覃", "qin", 1), ("武", "wu", 2), ("戴", "dai", 2),
    ("莫", "mo", 1), ("孔", "kong", 1), ("向", "xiang", 1), ("汤", "tang", 1), ("欧阳", "ouyang", 1), ("司马", "sima", 1),
];

pub const GIVEN_MALE: &[(&str, &str)] = &[
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("勇", "yong"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("刚", "gang"), ("平", "ping"), ("辉", "hui"), ("鹏", "peng"), ("华", "hua"), ("飞", "fei"), ("鑫", "xin"),
    ("波", "bo"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"), ("帆", "fan"),
    ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("林", "lin"), ("阳", "yang"), ("建", "jian"), ("国", "guo"), ("峰", "feng"),
    ("晨", "chen"), ("博", "bo"), ("文", "wen"), ("志", "zhi"), ("海", "hai"), ("东", "dong"), ("亮", "liang"), ("成", "cheng"),
    ("毅", "yi"), ("昊", "hao"), ("睿", "rui"), ("泽", "ze"), ("轩", "xuan"), ("嘉", "jia"), ("铭", "ming"), ("天", "tian"),
    ("永", "yong"), ("振", "zhen"), ("立", "li"), ("春", "chun"), ("德", "de"), ("新", "xin"), ("兵", "bing"), ("锋", "feng"),
    ("诚", "cheng"), ("子", "zi"), ("航", "hang"), ("彬", "bin"),
];

pub const GIVEN_FEMALE: &[(&str, &str)] = &[
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"), ("秀", "xiu"), ("娟", "juan"),
    ("霞", "xia"), ("燕", "yan"), ("玲", "ling"), ("婷", "ting"), ("雪", "xue"), ("慧", "hui"), ("颖", "ying"), ("琳", "lin"),
    ("洁", "jie"), ("倩", "qian"), ("晶", "jing"), ("欣", "xin"), ("悦", "yue"), ("佳", "jia"), ("怡", "yi"), ("雯", "wen"),
    ("萍", "ping"), ("红", "hong"), ("梅", "mei"), ("莉", "li"), ("璐", "lu"), ("瑶", "yao"), ("琪", "qi"), ("楠", "nan"),
    ("蕾", "lei"), ("丹", "dan"), ("薇", "wei"), ("露", "lu"), ("思", "si"), ("梦", "meng"), ("月", "yue"), ("晓", "xiao"),
    ("诗", "shi"), ("雨", "yu"), ("涵", "han"), ("可", "ke"), ("馨", "xin"), ("凤", "feng"), ("英", "ying"), ("兰", "lan"),
    ("彤", "tong"), ("佩", "pei"),
];

/// Regions (the customer form's `region` enum) and how many customers come from each.
pub const REGIONS: &[(&str, u32)] = &[
    ("华东", 30), ("华南", 20), ("华北", 16), ("华中", 10), ("西南", 10), ("西北", 5), ("东北", 5), ("港澳台", 2), ("海外", 2),
];

pub struct City {
    pub name: &'static str,
    /// Empty for the municipalities and outside the mainland.
    pub province: &'static str,
    pub region: &'static str,
    /// Pinyin initials, for company web domains.
    pub abbr: &'static str,
    /// The IANA zone, outside mainland China only.
    pub tz: Option<&'static str>,
    /// Outside the mainland: country code, leading digits, and how many digits follow.
    pub phone: Option<(&'static str, &'static str, usize)>,
}

const fn city(name: &'static str, province: &'static str, region: &'static str, abbr: &'static str) -> City {
    City { name, province, region, abbr, tz: None, phone: None }
}

const fn abroad(name: &'static str, region: &'static str, abbr: &'static str, tz: &'static str, phone: (&'static str, &'static str, usize)) -> City {
    City { name, province: "", region, abbr, tz: Some(tz), phone: Some(phone) }
}

pub const CITIES: &[City] = &[
    city("上海", "", "华东", "sh"), city("杭州", "浙江省", "华东", "hz"), city("南京", "江苏省", "华东", "nj"), city("苏州", "江苏省", "华东", "sz"),
    city("宁波", "浙江省", "华东", "nb"), city("无锡", "江苏省", "华东", "wx"), city("合肥", "安徽省", "华东", "hf"), city("济南", "山东省", "华东", "jn"),
    city("青岛", "山东省", "华东", "qd"), city("福州", "福建省", "华东", "fz"), city("厦门", "福建省", "华东", "xm"), city("温州", "浙江省", "华东", "wz"),
    city("广州", "广东省", "华南", "gz"), city("深圳", "广东省", "华南", "sz"), city("东莞", "广东省", "华南", "dg"), city("佛山", "广东省", "华南", "fs"),
    city("珠海", "广东省", "华南", "zh"), city("南宁", "广西壮族自治区", "华南", "nn"), city("海口", "海南省", "华南", "hk"),
    city("北京", "", "华北", "bj"), city("天津", "", "华北", "tj"), city("石家庄", "河北省", "华北", "sjz"), city("太原", "山西省", "华北", "ty"),
    city("呼和浩特", "内蒙古自治区", "华北", "hhht"),
    city("武汉", "湖北省", "华中", "wh"), city("长沙", "湖南省", "华中", "cs"), city("郑州", "河南省", "华中", "zz"), city("南昌", "江西省", "华中", "nc"),
    city("成都", "四川省", "西南", "cd"), city("重庆", "", "西南", "cq"), city("昆明", "云南省", "西南", "km"), city("贵阳", "贵州省", "西南", "gy"),
    city("西安", "陕西省", "西北", "xa"), city("兰州", "甘肃省", "西北", "lz"), city("乌鲁木齐", "新疆维吾尔自治区", "西北", "wlmq"),
    city("银川", "宁夏回族自治区", "西北", "yc"),
    city("沈阳", "辽宁省", "东北", "sy"), city("大连", "辽宁省", "东北", "dl"), city("长春", "吉林省", "东北", "cc"), city("哈尔滨", "黑龙江省", "东北", "heb"),
    abroad("香港", "港澳台", "hk", "Asia/Hong_Kong", ("852", "9", 7)), abroad("澳门", "港澳台", "mo", "Asia/Macau", ("853", "6", 7)),
    abroad("台北", "港澳台", "tp", "Asia/Taipei", ("886", "9", 8)),
    abroad("新加坡", "海外", "sg", "Asia/Singapore", ("65", "9", 7)), abroad("吉隆坡", "海外", "kl", "Asia/Kuala_Lumpur", ("60", "12", 7)),
    abroad("东京", "海外", "tk", "Asia/Tokyo", ("81", "90", 8)), abroad("洛杉矶", "海外", "la", "America/Los_Angeles", ("1", "310", 7)),
    abroad("纽约", "海外", "ny", "America/New_York", ("1", "646", 7)), abroad("伦敦", "海外", "ld", "Europe/London", ("44", "7", 9)),
    abroad("悉尼", "海外", "sd", "Australia/Sydney", ("61", "4", 8)),
];

/// Mainland mobile prefixes (13x, 15x, 18x mostly) and their weights.
pub const MOBILE_PREFIXES: &[(&str, u32)] = &[
    ("130", 3), ("131", 3), ("132", 3), ("133", 3), ("134", 2), ("135", 5), ("136", 5), ("137", 5), ("138", 6), ("139", 6),
    ("150", 3), ("151", 3), ("152", 3), ("153", 2), ("155", 2), ("156", 2), ("157", 2), ("158", 3), ("159", 3),
    ("180", 2), ("181", 2), ("182", 2), ("183", 2), ("185", 2), ("186", 3), ("187", 2), ("188", 2), ("189", 3),
    ("176", 1), ("177", 1), ("199", 1),
];

pub struct Industry {
    /// The customer form's `industry` enum value.
    pub name: &'static str,
    /// For company web domains.
    pub code: &'static str,
    /// What a company of the industry calls itself.
    pub words: &'static [&'static str],
}

pub const INDUSTRIES: &[Industry] = &[
    Industry { name: "制造业", code: "jx", words: &["机械制造", "精密机械", "电子科技", "智能装备", "新材料", "汽车零部件"] },
    Industry { name: "制造业", code: "zz", words: &["电气设备", "包装材料", "五金制品"] },
    Industry { name: "互联网/软件", code: "tech", words: &["网络科技", "软件技术", "信息技术", "数据科技"] },
    Industry { name: "批发零售", code: "sm", words: &["商贸", "贸易", "百货", "供应链管理"] },
    Industry { name: "金融", code: "fin", words: &["投资管理", "融资租赁", "保险代理", "财富管理"] },
    Industry { name: "教育培训", code: "edu", words: &["教育科技", "职业培训", "文化传播"] },
    Industry { name: "医疗健康", code: "med", words: &["医疗器械", "生物科技", "健康管理", "医药"] },
    Industry { name: "物流运输", code: "wl", words: &["物流", "供应链", "国际货运代理", "运输"] },
    Industry { name: "建筑地产", code: "jz", words: &["建设工程", "建筑设计", "置业", "装饰工程"] },
    Industry { name: "餐饮酒店", code: "cy", words: &["餐饮管理", "酒店管理", "食品"] },
    Industry { name: "专业服务", code: "zx", words: &["企业管理咨询", "人力资源服务", "广告", "知识产权代理"] },
    Industry { name: "能源化工", code: "ny", words: &["新能源", "化工", "环保科技", "电力工程"] },
    Industry { name: "其他", code: "sy", words: &["实业", "文化发展", "农业科技"] },
];

/// Brand names of companies: (name, pinyin, initials).
pub type Brand = (&'static str, &'static str, &'static str);

pub const BRANDS: &[Brand] = &[
    ("恒信", "hengxin", "hx"), ("华创", "huachuang", "hc"), ("瑞丰", "ruifeng", "rf"), ("金桥", "jinqiao", "jq"), ("博远", "boyuan", "by"),
    ("启明", "qiming", "qm"), ("天润", "tianrun", "tr"), ("中科", "zhongke", "zk"), ("海纳", "haina", "hn"), ("鼎盛", "dingsheng", "ds"),
    ("嘉禾", "jiahe", "jh"), ("新元", "xinyuan", "xy"), ("睿达", "ruida", "rd"), ("远航", "yuanhang", "yh"), ("东升", "dongsheng", "dsh"),
    ("宏图", "hongtu", "ht"), ("力拓", "lituo", "lt"), ("安泰", "antai", "at"), ("永信", "yongxin", "yx"), ("正和", "zhenghe", "zh"),
    ("德润", "derun", "dr"), ("汇通", "huitong", "hut"), ("联创", "lianchuang", "lc"), ("朗润", "langrun", "lr"), ("云帆", "yunfan", "yf"),
    ("星辰", "xingchen", "xc"), ("立方", "lifang", "lf"), ("凯捷", "kaijie", "kj"), ("通达", "tongda", "td"), ("万象", "wanxiang", "wx"),
    ("九州", "jiuzhou", "jz"), ("长青", "changqing", "cq"), ("明德", "mingde", "md"), ("智联", "zhilian", "zl"), ("优品", "youpin", "yp"),
    ("卓越", "zhuoyue", "zy"), ("锦程", "jincheng", "jc"), ("盛世", "shengshi", "ss"), ("和信", "hexin", "hex"), ("宝利", "baoli", "bl"),
    ("绿源", "lvyuan", "ly"), ("蓝海", "lanhai", "lh"), ("鸿运", "hongyun", "hy"), ("信达", "xinda", "xd"), ("腾飞", "tengfei", "tf"),
    ("众合", "zhonghe", "zhh"), ("华光", "huaguang", "hg"), ("百川", "baichuan", "bc"), ("方圆", "fangyuan", "fy"), ("聚力", "juli", "jl"),
    ("精诚", "jingcheng", "jic"), ("君诚", "juncheng", "juc"), ("广源", "guangyuan", "gy"), ("同创", "tongchuang", "tc"), ("弘毅", "hongyi", "hoy"),
    ("致远", "zhiyuan", "zyu"), ("合力", "heli", "hl"), ("宏达", "hongda", "hd"), ("金石", "jinshi", "js"), ("银杉", "yinshan", "ys"),
    ("青松", "qingsong", "qs"), ("海川", "haichuan", "hch"), ("天成", "tiancheng", "tch"), ("瑞祥", "ruixiang", "rx"), ("信诚", "xincheng", "xch"),
    ("康达", "kangda", "kd"), ("美达", "meida", "mda"), ("品维", "pinwei", "pw"), ("思远", "siyuan", "sy"), ("领航", "linghang", "lhg"),
    ("晨曦", "chenxi", "cx"), ("泰和", "taihe", "th"), ("润泽", "runze", "rz"), ("景泰", "jingtai", "jt"), ("鼎信", "dingxin", "dx"),
    ("华盛", "huasheng", "hs"), ("东方", "dongfang", "df"), ("金鹰", "jinying", "jy"), ("恒远", "hengyuan", "hey"), ("瀚海", "hanhai", "hh"),
];

pub const SOURCES: &[(&str, u32)] = &[
    ("官网咨询", 18), ("展会", 12), ("客户转介绍", 16), ("电话营销", 10), ("线上广告", 12), ("社交媒体", 10), ("合作伙伴", 10), ("老客户复购", 7),
    ("其他", 5),
];

pub const POSITIONS: &[&str] = &[
    "总经理", "副总经理", "采购经理", "运营总监", "行政经理", "市场总监", "IT经理", "财务经理", "董事长", "店长", "项目经理", "总经理助理",
];

pub const ROADS: &[&str] = &[
    "人民路", "建设路", "中山路", "解放路", "长江路", "和平路", "科技路", "创业大道", "滨江大道", "新华路", "文化路", "学府路", "工业园路",
    "东风路", "世纪大道", "高新大道", "金融街", "振兴路",
];

pub const BUILDINGS: &[&str] = &["国际大厦", "科技园A座", "中心大厦", "创业园3栋", "商务中心", "金融广场", "产业园B区"];

pub const TAGS: &[&str] = &["价格敏感", "决策链长", "有续约意向", "需要培训", "技术型客户", "年度框架", "渠道推荐", "关注售后"];

pub const CUSTOMER_NOTES: &[&str] = &[
    "年底有预算，可重点跟进", "对接人近期换岗，需重新建立联系", "偏好微信沟通，电话常不接", "每季度集中采购一次", "需开具增值税专用发票",
    "非常关注数据安全和私有化部署", "老板亲自拍板，决策快", "集团统一招标，流程较长",
];

pub struct Product {
    pub name: &'static str,
    /// List prices in yuan (per unit when `per_unit`).
    pub prices: &'static [i64],
    pub per_unit: bool,
    /// A yearly subscription: its order starts a contract year.
    pub subscription: bool,
    /// How an opportunity for it is called after the company's brand.
    pub project: &'static str,
}

pub const PRODUCTS: &[Product] = &[
    Product { name: "企业版年度订阅", prices: &[39800, 49800, 59800, 79800], per_unit: false, subscription: true, project: "企业版采购项目" },
    Product { name: "专业版年度订阅", prices: &[9800, 12800, 19800, 29800], per_unit: false, subscription: true, project: "专业版采购" },
    Product { name: "标准版年度订阅", prices: &[2980, 4980, 6800, 8800], per_unit: false, subscription: true, project: "标准版采购" },
    Product { name: "实施服务", prices: &[8000, 15000, 25000, 40000], per_unit: false, subscription: false, project: "实施服务项目" },
    Product { name: "培训服务", prices: &[2000, 3500, 6000, 12000], per_unit: false, subscription: false, project: "培训服务采购" },
    Product { name: "增值模块", prices: &[3000, 6800, 12000, 20000], per_unit: false, subscription: false, project: "增值模块扩展" },
    Product { name: "硬件终端", prices: &[1280, 1680, 2380, 2980], per_unit: true, subscription: false, project: "终端设备采购" },
    Product { name: "技术支持包", prices: &[2000, 4800, 8000, 10000], per_unit: false, subscription: false, project: "技术支持服务" },
];

pub const ORDER_NOTES: &[&str] = &["客户要求分两期开票", "含上门安装", "走集团框架协议价", "需签订补充协议", "发票已邮寄", "年度折扣已申请"];

pub const LOST_REASONS: &[(&str, u32)] = &[("价格", 4), ("功能不满足", 2), ("选择了竞品", 3), ("预算取消", 2), ("决策延期", 2), ("其他", 1)];

pub const NEXT_STEPS: &[&str] = &[
    "安排产品演示", "提交方案书", "发送正式报价", "约技术负责人交流", "准备合同草案", "邀请参观标杆客户", "确认采购流程和预算",
];

pub const METHODS: &[(&str, u32)] = &[("电话", 35), ("微信", 30), ("拜访", 12), ("邮件", 8), ("视频会议", 12), ("其他", 3)];

pub const SALES_TOPICS: &[&str] = &[
    "初次电话沟通", "需求调研", "产品演示", "方案讲解", "报价沟通", "商务谈判", "合同条款确认", "上门拜访", "试用情况了解", "竞品对比答疑",
];

pub const CARE_TOPICS: &[&str] = &[
    "使用情况回访", "续约沟通", "增购需求沟通", "售后问题跟进", "培训安排", "付款提醒", "节日问候", "新功能介绍", "年度服务总结", "上门拜访",
];

pub const SALES_FEEDBACK: &[&str] = &[
    "对产品功能比较认可", "关注价格，希望有优惠", "需要内部评估后再答复", "希望增加移动端功能", "对交付周期有顾虑", "决策人出差，下周再约",
    "已转给采购部门", "希望先小范围试用", "对竞品也在比较", "预算下季度才能批", "对数据迁移比较担心", "希望提供同行业案例",
];

pub const CARE_FEEDBACK: &[&str] = &[
    "整体使用顺畅", "对售后响应速度满意", "希望报表功能更灵活", "新员工上手有难度", "系统偶尔卡顿", "有扩大使用范围的打算",
    "对续约价格有疑问", "希望安排一次培训", "付款流程在走审批", "提出了两个新需求", "对服务很满意，愿意推荐", "希望对接企业微信",
];

pub const ISSUES: &[&str] = &[
    "报价需要领导审批", "需提供案例资料", "发票抬头待确认", "接口对接方案待定", "合同条款法务在审", "测试环境还没开通",
    "数据导入模板有问题", "账号权限需要调整", "付款计划未确定",
];

pub const SALES_NEXT: &[&str] = &[
    "发送报价单", "安排产品演示", "准备合同草案", "邀请参加线下沙龙", "提交方案书", "电话确认评估结果", "安排技术人员上门",
];

pub const CARE_NEXT: &[&str] = &[
    "发送续约报价", "安排培训", "跟进问题处理进度", "提交需求给产品部", "确认付款时间", "邀请参加客户大会", "回访使用效果",
];

pub const COMMENTS_HIGH: &[&str] = &[
    "服务很及时", "系统稳定，好用", "客户经理很专业", "培训很有帮助", "会推荐给同行", "希望多组织交流活动", "新功能很实用",
];

pub const COMMENTS_LOW: &[&str] = &[
    "售后响应太慢", "系统经常卡顿", "价格偏高", "问题反馈后没人跟进", "功能和宣传不符", "交付延期了两周", "发票开具太慢",
];

/// Complaint categories (the complaint form's `category` enum), what customers said, and how it was settled.
pub const COMPLAINTS: &[(&str, &[&str], &[&str])] = &[
    ("产品质量", &["系统频繁报错，影响日常使用", "导出报表数据不准确", "终端设备到货后无法开机"], &["已远程修复并回访确认", "已更换设备并上门调试", "已发布补丁，客户确认恢复正常"]),
    ("服务态度", &["客服电话多次无人接听", "售后工程师态度敷衍", "问题反馈一周无人回复"], &["已致歉并更换对接工程师", "主管致电道歉，客户表示接受", "已致歉并赠送一次免费培训"]),
    ("交付延迟", &["实施上线比约定晚了三周", "设备发货延迟", "培训多次改期"], &["已调整实施计划并每周同步进度", "已加急发货并补偿服务时长", "已确定培训日期并书面确认"]),
    ("价格费用", &["续约价格上涨幅度过大", "增值模块收费未提前说明"], &["已按原价续约一年", "已解释收费标准并给予折扣"]),
    ("账单发票", &["发票信息开错，要求重开", "重复扣款，要求退还"], &["已重开发票并寄出", "已退还多收款项"]),
    ("其他", &["销售承诺的功能至今未上线", "对接人变更后没有交接"], &["已同步产品路线图并约定上线时间", "新对接人已上门交接"]),
];

pub const CONTACT_NOTES: &[&str] = &["负责签字审批", "技术选型主要看他的意见", "每月初比较忙", "喜欢电话沟通", "新入职，需要多介绍"];

/// The demo users (`users.csv`): who owns a region's customers.
pub fn owner_for(region: &str, r: &mut Rng) -> &'static str {
    match region {
        "华东" if r.chance(0.5) => "wang.fang@demo.trellis",
        "华东" => "li.qiang@demo.trellis",
        "华中" | "西南" => "zhou.min@demo.trellis",
        "华南" => "liu.yang@demo.trellis",
        "华北" => "sun.hao@demo.trellis",
        _ => "huang.ting@demo.trellis",
    }
}

/// The manager of a staff member (`users.csv`).
pub fn manager_of(staff: &str) -> &'static str {
    match staff {
        "wang.fang@demo.trellis" | "li.qiang@demo.trellis" | "zhou.min@demo.trellis" => "chen.jing@demo.trellis",
        _ => "zhao.lei@demo.trellis",
    }
}
