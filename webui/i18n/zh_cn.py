"""简体中文界面文字 (Simplified Chinese UI text). Same keys as `en.py`."""

from webui.i18n.params_zh import PARAM_HELP

STRINGS: dict[str, str] = {
    # tabs
    "tab.chat": "对话",
    "tab.notebook": "笔记本",
    "tab.parameters": "参数",
    "tab.models": "模型",
    "tab.extensions": "扩展",
    "tab.learn": "学习",
    # chat tab
    "chat.new": "+ 新对话",
    "chat.mode": "模式",
    "chat.mode.info": "指令：使用模型自带的模板。角色：使用 characters/ 里的人设。",
    "chat.character": "角色",
    "chat.system_prompt": "系统提示词 / 角色设定",
    "chat.tools": "工具",
    "chat.tools_label": "模型可以调用的工具",
    "chat.tools_info": "⚠️ 标记会改变外部状态的工具：运行前会先征求你的同意。",
    "chat.saved": "已保存的对话",
    "chat.manage": "当前对话：重命名、删除、导出、导入",
    "chat.name": "名称",
    "chat.rename": "重命名",
    "chat.delete": "删除",
    "chat.export_json": "导出 JSON",
    "chat.export_md": "导出 Markdown",
    "chat.export": "导出",
    "chat.import": "导入 JSON",
    "chat.placeholder": "对模型说点什么吧。",
    "chat.input": "消息（Enter 发送，Shift+Enter 换行，Esc 停止）",
    "chat.send": "发送",
    "chat.stop": "停止",
    "chat.regenerate": "重新生成",
    "chat.continue": "继续",
    "chat.remove_last": "删除最后一轮",
    # notebook tab
    "notebook.new": "+ 新笔记本",
    "notebook.saved": "已保存的笔记本",
    "notebook.name": "名称",
    "notebook.save": "保存",
    "notebook.placeholder": "写下一段文字的开头，模型会接着写下去（不使用对话模板）。",
    "notebook.generate": "生成",
    "notebook.stop": "停止",
    # parameters tab
    "params.preset": "预设",
    "params.save_as": "另存为",
    "params.save_as.placeholder": "预设名称",
    "params.save": "保存预设",
    "params.delete": "删除预设",
    "params.group.Basics": "基础",
    "params.group.Repetition": "重复惩罚",
    "params.group.Advanced": "高级",
    "params.group.Constrained output": "约束输出",
    # learn tab
    "learn.intro": (
        "### 模型内部\n"
        "大模型做的是**文字接龙**：根据输入和已经输出的文字，由一个函数给出下一个 **token** 的所有可能及其概率；"
        "选出一个接上，再继续下一个。下面几个视图在你正在运行的模型上展示每一步。"
    ),
    "learn.tokens.tab": "Token 切分",
    "learn.tokens.explain": (
        "模型看到的不是字母或汉字，而是 **token id**：词表里一段段文字对应的编号。常见的英文单词往往是一个 token；"
        "一个汉字可能是一个 token，也可能被拆成几个字节片段（显示为 `\\xNN`）。鼠标悬停可以看到每个 token 的字节。"
        "空格显示为 `·`，换行显示为 `↵`。"
    ),
    "learn.tokens.text": "文本",
    "learn.tokens.compare": "对比另一个分词器",
    "learn.tokens.split": "切分成 token",
    "learn.tokens.loaded": "当前加载的模型",
    "learn.next.tab": "下一个 token",
    "learn.next.explain": (
        "柱状图是**最可能的 20 个下一个 token**：先是模型给出的原始概率，然后按当前预设的 `sampler_priority` 顺序，"
        "显示每个采样环节之后剩下的 token（重新归一化，使剩下的概率加起来等于 100%）。温度改变分布的形状；"
        "top-k、top-p 和 min-p 砍掉长尾。点击一个 token 就用它接着写，也可以让预设来选。"
    ),
    "learn.next.prompt": "提示词",
    "learn.next.chat_format": "包装成一条对话消息（系统提示词 + 对话模板）",
    "learn.next.start": "显示下一个 token",
    "learn.next.from_reply": "从最近一次对话回复的中间开始",
    "learn.next.reply_position": "……保留回复的前几个 token",
    "learn.next.so_far": "目前的文本（选中的 token 高亮显示）",
    "learn.next.pick": "选择下一个 token（点击一个）",
    "learn.next.step": "走一步：让预设来选",
    "learn.next.back": "退回一个 token",
    "learn.confidence.tab": "置信度",
    "learn.confidence.explain": (
        "把一段文字的每个 token 按模型在那个位置给它的概率上色：绿色表示模型意料之中，红色表示出乎意料。"
        "鼠标悬停可以看到模型还考虑过哪些 token。"
        "**困惑度**（perplexity）是 exp(平均惊讶程度)：等于 1 表示模型对每个 token 都很确定。"
    ),
    "learn.confidence.context": "上下文（这段文字之前的提示词，可以为空）",
    "learn.confidence.text": "要上色的文字",
    "learn.confidence.last_reply": "使用最近一次对话的回复",
    "learn.confidence.run": "按概率上色",
    "learn.embeddings.tab": "向量嵌入",
    "learn.embeddings.explain": (
        "嵌入模型把一句话变成一个向量（这里是 all-MiniLM-L6-v2：384 个数）。**意思相近的句子，向量也相近**："
        "看下面的余弦相似度（1 表示方向相同）和二维投影（PCA）。这个模型是用英文训练的。"
    ),
    "learn.embeddings.sentences": "句子，每行一句",
    "learn.embeddings.run": "计算嵌入",
    "learn.attention.tab": "注意力",
    "learn.attention.explain": (
        "注意力是 transformer 在 token 之间交换信息的方式：第 *i* 行表示在某一层的某一个头里，第 *i* 个 token "
        "对前面每个 token 的关注程度（每行加起来等于 1）。不同的头学会不同的习惯：有的看前一个 token，有的看第一个。"
        "需要 transformers 后端。"
    ),
    "learn.attention.prompt": "一小段提示词",
    "learn.attention.layer": "层",
    "learn.attention.head": "头",
    "learn.attention.run": "显示注意力",
    # text made on the server (charts, messages)
    "learn.msg.tokens_possible": "{count} 个 token 可选",
    "learn.msg.summary": (
        "<b>{tokens}</b> 个 token · {characters} 个字符 · {bytes} 字节 · 平均每个 token {ratio} 个字符"
    ),
    "learn.msg.confidence": "{count} 个 token · 困惑度 {perplexity:.2f}",
    "learn.msg.no_attention": (
        "{backend} 后端无法显示注意力权重。请用 `--loader transformers` 加载模型"
        "（Hugging Face 模型文件夹，或把这个 GGUF 文件反量化加载）后再看。"
    ),
    "learn.msg.not_supported": "{backend} 后端无法显示这个内容：{reason}",
    "learn.msg.no_reply": "还没有带回复的已保存对话。",
    "learn.msg.step": "第 {step} 步：已经选了 {count} 个 token。",
    "learn.msg.layer_head": "第 {layer} 层，第 {head} 个头",
    # models tab: download section
    "download.title": "从 Hugging Face hub 下载",
    "download.repo": "仓库（org/repo、org/repo:分支 或 hub 网址）",
    "download.token": "受限或私有仓库的令牌（可选）",
    "download.token.placeholder": "hf_…（公开仓库不需要）",
    "download.token.env": "已设置 HF_TOKEN，除非你输入别的令牌，否则使用它",
    "download.list": "列出文件",
    "download.choice": "要下载的内容",
    "download.start": "⬇️ 下载",
    "download.job": "进行中的下载",
    "download.cancel": "取消",
}

STRINGS.update({f"param.{name}": text for name, text in PARAM_HELP.items()})
