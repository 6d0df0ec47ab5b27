// Strings of the UI, zh-CN first (our users' language), English beside.
const zh = {
  signin: '登录', email: '邮箱', password: '密码', signout: '退出', wrong: '邮箱或密码不正确',
  forms: '表单', records: '记录', tasks: '任务', dashboards: '看板', settings: '设置', users: '用户', roles: '角色', packs: '模板',
  design: '设计', rules: '规则', entry: '录入', newform: '新建表单', formkey: '表单标识', formtitle: '表单名称', create: '创建',
  palette: '字段', canvas: '表单', properties: '属性', preview: '预览', json: 'JSON', publish: '发布', published: '已发布为第 {v} 版',
  dragHere: '把左侧的字段拖到这里', addSection: '添加分组', section: '分组', label: '名称', key: '标识', help: '说明', required: '必填',
  options: '选项（每行一个）', min: '最小值', max: '最大值', minLength: '最少字数', maxLength: '最多字数', pattern: '格式（正则）', default: '默认值',
  linkTo: '关联表单', columns: '子表列（逗号分隔）', remove: '删除字段', removeRule: '删除规则', removeItem: '删除', pickColumns: '显示的列', addCond: '筛选条件', searchLink: '搜索…', more: '加载更多', allRecords: '全部记录', viewName: '视图名称', saveView: '保存视图', within: '在…之内', empty: '为空', notEmpty: '不为空', containsOp: '包含', apply: '筛选', nRecords: '共 {n} 条', r_today: '今天', r_this_week: '本周', r_last_7: '近 7 天', r_this_month: '本月', r_next_30: '未来 30 天', created: '创建', task: '任务', details: '资料', timeline: '时间线', log: '记录', noTasks: '没有待办任务', due: '截止', overdue: '已逾期', complete: '完成', notifications: '通知', markRead: '标为已读', derived: '自动计算', derivedHint: '计算字段和汇总由规则维护，在「规则」里修改', addUser: '添加用户', role: '角色', manager: '主管', dashboardsNote: '每个看板组件统计的表单、指标与分组。', nothingSelected: '点选一个字段来编辑它的属性',
  changeSummary: '本次发布的变化', added: '新增', removed: '删除', changed: '修改', nochange: '没有变化', confirm: '确认发布', cancel: '取消',
  save: '保存', saved: '已保存', submit: '提交', createdRecord: '已创建记录 {id}', sample: '示例记录（JSON）', test: '测试', testOn: '用记录测试',
  computed: '计算字段', segments: '分层规则', addRule: '添加规则', ruleKey: '规则标识', kind: '类型', value: '结果', compiles: '脚本可以运行',
  installed: '已安装', bundled: '内置模板', install: '安装', upload: '上传模板包', export: '导出', version: '版本', noForms: '还没有表单',
  fields: '个字段', definitions: '定义', language: 'English',
  k_text: '单行文本', k_textarea: '多行文本', k_number: '数字', k_money: '金额', k_date: '日期', k_datetime: '日期时间', k_select: '单选',
  k_multiselect: '多选', k_checkbox: '复选框', k_user: '成员', k_link: '关联记录', k_subtable: '子表', k_phone: '手机号', k_email: '邮箱',
  k_rating: '评分', k_nps: 'NPS',
  workflows: '流程', triggers: '提醒', states: '状态', state: '状态', diagram: '流程图', start: '启动方式', startCondition: '启动条件（rhai，可留空）', initial: '初始状态',
  after: '多久后', every: '之后每隔', actions: '动作（JSON）', final: '终态', onEnter: '进入时的动作（JSON）', timer: '定时器', transitions: '流转', transition: '流转',
  from: '从', to: '到', guard: '守卫条件（rhai：true、false 或提示文字）', whenAuto: '自动流转条件（rhai，可留空）',
  start_created: '记录创建时', start_condition: '条件成立时', start_manual: '手动', whenKind: '触发方式', condition: '条件（rhai，可留空）', message: '消息模板', template: '模板（minijinja，首行 subject: 为邮件标题）',
  wk_event: '记录事件', wk_date: '日期前后', wk_anniversary: '周年（生日）', wk_inactive: '多久没有', wk_festival: '节日', wk_cron: '定时（cron）',
  w_event: '事件', w_field: '字段', w_segment: '分层', w_to: '变为', w_date: '日期字段', w_offset: '偏移', w_at: '时刻', w_tz: '时区', w_tz_field: '时区字段',
  w_anniversary: '日期字段', w_inactive: '时间字段', w_for: '多久', w_festival: '节日', w_cron: 'cron 表达式',
};
const en = {
  signin: 'Sign in', email: 'Email', password: 'Password', signout: 'Sign out', wrong: 'Wrong email or password',
  forms: 'Forms', records: 'Records', tasks: 'Tasks', dashboards: 'Dashboards', settings: 'Settings', users: 'Users', roles: 'Roles', packs: 'Packs',
  design: 'Design', rules: 'Rules', entry: 'Entry', newform: 'New form', formkey: 'Form key', formtitle: 'Form title', create: 'Create',
  palette: 'Fields', canvas: 'Form', properties: 'Properties', preview: 'Preview', json: 'JSON', publish: 'Publish', published: 'Published as version {v}',
  dragHere: 'Drag fields from the left here', addSection: 'Add section', section: 'Section', label: 'Label', key: 'Key', help: 'Help', required: 'Required',
  options: 'Options (one per line)', min: 'Minimum', max: 'Maximum', minLength: 'Min length', maxLength: 'Max length', pattern: 'Pattern (regex)', default: 'Default',
  linkTo: 'Links to form', columns: 'Sub-table columns (comma separated)', remove: 'Remove field', removeRule: 'Remove rule', removeItem: 'Remove', pickColumns: 'Columns', addCond: 'Condition', searchLink: 'Search…', more: 'More', allRecords: 'All records', viewName: 'View name', saveView: 'Save view', within: 'within', empty: 'is empty', notEmpty: 'is not empty', containsOp: 'contains', apply: 'Apply', nRecords: '{n} records', r_today: 'today', r_this_week: 'this week', r_last_7: 'last 7 days', r_this_month: 'this month', r_next_30: 'next 30 days', created: 'created', task: 'Task', details: 'Details', timeline: 'Timeline', log: 'Log a', noTasks: 'No open tasks', due: 'due', overdue: 'overdue', complete: 'Complete', notifications: 'Notifications', markRead: 'Mark read', derived: 'computed', derivedHint: 'Computed and rollup fields are kept by the rules; change them under Rules', addUser: 'Add a user', role: 'Role', manager: 'Manager', dashboardsNote: 'What each widget counts, on which form, grouped how.', nothingSelected: 'Select a field to edit its properties',
  changeSummary: 'What this version changes', added: 'Added', removed: 'Removed', changed: 'Changed', nochange: 'No changes', confirm: 'Publish', cancel: 'Cancel',
  save: 'Save', saved: 'Saved', submit: 'Submit', createdRecord: 'Created record {id}', sample: 'Sample record (JSON)', test: 'Test', testOn: 'Test on a record',
  computed: 'Computed fields', segments: 'Segments', addRule: 'Add rule', ruleKey: 'Rule key', kind: 'Kind', value: 'Result', compiles: 'The script runs',
  installed: 'Installed', bundled: 'Bundled packs', install: 'Install', upload: 'Upload a pack', export: 'Export', version: 'Version', noForms: 'No forms yet',
  fields: 'fields', definitions: 'Definitions', language: '中文',
  k_text: 'Text', k_textarea: 'Long text', k_number: 'Number', k_money: 'Money', k_date: 'Date', k_datetime: 'Date & time', k_select: 'Select',
  k_multiselect: 'Multi-select', k_checkbox: 'Checkbox', k_user: 'User', k_link: 'Link', k_subtable: 'Sub-table', k_phone: 'Phone', k_email: 'Email',
  k_rating: 'Rating', k_nps: 'NPS',
  workflows: 'Workflows', triggers: 'Triggers', states: 'states', state: 'State', diagram: 'Diagram', start: 'Starts', startCondition: 'Start condition (rhai, optional)', initial: 'Initial state',
  after: 'After', every: 'Then every', actions: 'Actions (JSON)', final: 'Final', onEnter: 'On enter (JSON actions)', timer: 'Timer', transitions: 'Transitions', transition: 'Transition',
  from: 'From', to: 'To', guard: 'Guard (rhai: true, false or a message)', whenAuto: 'Automatic when (rhai, optional)',
  start_created: 'When created', start_condition: 'When a condition holds', start_manual: 'By hand', whenKind: 'When', condition: 'Condition (rhai, optional)', message: 'Message', template: 'Template (minijinja; a first line subject: is the email subject)',
  wk_event: 'Record event', wk_date: 'Before/after a date', wk_anniversary: 'Anniversary', wk_inactive: 'Inactivity', wk_festival: 'Festival', wk_cron: 'Schedule (cron)',
  w_event: 'Event', w_field: 'Field', w_segment: 'Segment', w_to: 'Becomes', w_date: 'Date field', w_offset: 'Offset', w_at: 'At', w_tz: 'Time zone', w_tz_field: 'Time zone field',
  w_anniversary: 'Date field', w_inactive: 'Time field', w_for: 'For', w_festival: 'Festival', w_cron: 'Cron pattern',
};
const LANG = 'trellis.lang';
export let lang = localStorage.getItem(LANG) || (navigator.language?.startsWith('zh') ? 'zh-CN' : 'zh-CN');
export function setLang(l) { lang = l; localStorage.setItem(LANG, l); document.documentElement.lang = l; }
export function t(key, vars = {}) {
  const s = (lang === 'en' ? en : zh)[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');
}
