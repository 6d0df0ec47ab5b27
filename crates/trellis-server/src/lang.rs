//! The language of the messages people read: zh-CN or English, by the
//! request's `Accept-Language` (the browser app sends the user's choice).
//! Only text for people changes; `type`, `code`, `pointer` and every other
//! machine-readable member stay the same in both.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

tokio::task_local! {
    static LANG: Lang;
}

impl Lang {
    /// The preferred of zh and en in an `Accept-Language` value (highest q wins,
    /// the first on a tie); English when it names neither.
    pub fn from_header(v: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in v.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The language of the request being answered (English outside one).
    pub fn current() -> Lang {
        LANG.try_with(|l| *l).unwrap_or(Lang::En)
    }
}

/// Runs the request with its language in scope, so every problem made while
/// answering it speaks that language.
pub async fn scope(req: Request, next: Next) -> Response {
    let lang = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map_or(Lang::En, Lang::from_header);
    LANG.scope(lang, next.run(req)).await
}

/// A status's title in Chinese.
pub fn zh_title(status: u16) -> &'static str {
    match status {
        400 => "请求有误",
        401 => "请先登录",
        403 => "没有权限",
        404 => "找不到",
        405 => "不支持的操作",
        409 => "与已有数据冲突",
        410 => "已删除",
        412 => "记录已被他人修改",
        413 => "内容太大",
        414 | 431 => "请求太长",
        415 => "不支持的内容类型",
        422 => "提交的内容有问题",
        429 => "操作太频繁",
        503 => "服务暂不可用",
        s if s >= 500 => "服务器出错",
        _ => "出错了",
    }
}

/// What a status means for the person, in Chinese, when the problem has no sentence of its own.
pub fn zh_detail(status: u16) -> &'static str {
    match status {
        400 => "请求的参数不对，请检查后重试",
        401 => "登录已过期或未登录，请重新登录",
        403 => "你的角色不能执行这个操作；需要时请联系管理员",
        404 => "要找的内容不存在，或你没有权限查看",
        405 => "这个地址不支持这种操作",
        409 => "与已有的数据冲突",
        410 => "这条内容已被删除",
        412 => "有人在你之前保存了修改，请刷新后再试",
        413 => "上传的内容太大",
        414 | 431 => "请求太长",
        415 => "不支持这种内容类型",
        422 => "提交的内容有问题",
        429 => "操作太频繁，请稍后再试",
        503 => "服务暂时不可用，请稍后再试",
        s if s >= 500 => "服务器出错了，请稍后再试；问题已记录",
        _ => "出错了",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_language_wins() {
        assert_eq!(Lang::from_header("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_header("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_header("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(Lang::from_header("fr-FR, zh;q=0.5"), Lang::Zh);
        assert_eq!(Lang::from_header("en;q=0.2, zh-TW;q=0.7"), Lang::Zh);
        assert_eq!(Lang::from_header("fr"), Lang::En);
        assert_eq!(Lang::from_header("zh;q=0"), Lang::En);
        assert_eq!(Lang::from_header(""), Lang::En);
    }
}
