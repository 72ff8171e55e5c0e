// 登录, 激活账号, 重置密码 (a staff user's one-time reset code), 我的 (修改密码, 退出登录), and the homes of the
// roles without screens here.
import * as api from "../api.js";
import * as queue from "../queue.js";
import { alert, button, confirm, field, go, h, notice, reactive, screen, state, V } from "../ui.js";

export const Login = {
  setup() {
    const m = reactive({ username: "", password: "", error: "", busy: false });
    const submit = async (e) => {
      e && e.preventDefault();
      m.error = "";
      m.busy = true;
      try {
        const s = await api.login(m.username.trim(), m.password);
        state.user = s.user;
        go("/");
        queue.flush(); // this user's items left from an earlier login
      } catch (err) {
        m.error = err.message;
      } finally {
        m.busy = false;
      }
    };
    return () =>
      screen(
        "智矫 · 登录",
        [
          h("form", { onSubmit: submit, "aria-label": "登录" }, [
            field("用户名", m, "username", { autocomplete: "username", required: true }),
            field("密码", m, "password", { type: "password", autocomplete: "current-password", required: true }),
            alert(m.error),
            h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: m.busy }, () => "登录"),
          ]),
          h("p", { class: "links" }, [
            h("a", { href: "#/activate" }, "激活账号"),
            " · ",
            h("a", { href: "#/reset" }, "忘记密码 / 重置密码"),
          ]),
        ],
        { back: false },
      );
  },
};

// A one-time code and a new password, twice, then logged in: activation (subjects) and reset (staff users).
function codeForm({ title, intro, codeLabel, submitText, send, footer = null }) {
  return {
    setup() {
      const m = reactive({ code: "", password: "", again: "", error: "", busy: false });
      const submit = async (e) => {
        e.preventDefault();
        m.error = "";
        if (m.password !== m.again) {
          m.error = "两次输入的新密码不一致";
          return;
        }
        m.busy = true;
        try {
          const s = await send(m.code.trim(), m.password);
          state.user = s.user;
          go("/");
          queue.flush();
        } catch (err) {
          m.error = err.fieldMessage("password") ? `${err.message}:${err.fieldMessage("password")}` : err.message;
        } finally {
          m.busy = false;
        }
      };
      return () =>
        screen(title, [
          h("p", intro),
          h("form", { onSubmit: submit, "aria-label": title }, [
            field(codeLabel, m, "code", { autocomplete: "one-time-code", required: true }),
            field("新密码", m, "password", { type: "password", autocomplete: "new-password", required: true }),
            field("确认新密码", m, "again", { type: "password", autocomplete: "new-password", required: true }),
            alert(m.error),
            h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: m.busy }, () => submitText),
          ]),
          footer && footer(),
        ]);
    },
  };
}

export const Activate = codeForm({
  title: "激活账号",
  intro: "请输入司法所给您的一次性激活码,并设置新密码。",
  codeLabel: "激活码",
  submitText: "激活",
  send: (code, password) => api.activate(code, password),
});

// A staff user (工作人员, 网格员) who forgot the password: an admin issues a one-time reset code
// (POST /admin/users/{id}/reset-code); with it a new password is set here and the user is logged in
// (POST /auth/reset ends every other session). docs/roles.md#recovery
export const Reset = codeForm({
  title: "重置密码",
  intro: "工作人员和网格员忘记密码时,请管理员签发一次性重置码,然后在这里设置新密码。重置后,其他设备上的登录都会退出。",
  codeLabel: "重置码",
  submitText: "重置密码并登录",
  send: (code, password) => api.reset(code, password),
  footer: () => h("p", { class: "notice" }, "社区矫正对象忘记密码,请联系司法所重新签发激活码,再用“激活账号”设置新密码。"),
});

export async function logout() {
  if (await confirm("退出登录", "确定退出登录吗?")) {
    await api.logout();
  }
}

export const Mine = {
  setup() {
    return () =>
      screen("我的", [
        h("p", { class: "who" }, `${state.user.display_name}(${state.user.username})`),
        h(V.CellGroup, { inset: true }, () => [
          h(V.Cell, { title: "修改密码", isLink: true, onClick: () => go("/password") }),
        ]),
        h("div", { class: "gap" }, [button("退出登录", logout, { type: "danger" })]),
      ]);
  },
};

export const Password = {
  setup() {
    const m = reactive({ old: "", password: "", again: "", error: "", done: "" });
    const submit = async (e) => {
      e.preventDefault();
      m.error = m.done = "";
      if (m.password !== m.again) {
        m.error = "两次输入的新密码不一致";
        return;
      }
      try {
        await api.post("/me/password", { old_password: m.old, new_password: m.password });
        m.done = "密码已修改";
        m.old = m.password = m.again = "";
      } catch (err) {
        m.error = err.fieldMessage("new_password") ? `${err.message}:${err.fieldMessage("new_password")}` : err.message;
      }
    };
    return () =>
      screen("修改密码", [
        h("form", { onSubmit: submit, "aria-label": "修改密码" }, [
          field("原密码", m, "old", { type: "password", autocomplete: "current-password", required: true }),
          field("新密码", m, "password", { type: "password", autocomplete: "new-password", required: true }),
          field("确认新密码", m, "again", { type: "password", autocomplete: "new-password", required: true }),
          alert(m.error),
          notice(m.done),
          h(V.Button, { type: "primary", block: true, nativeType: "submit" }, () => "确认修改"),
        ]),
      ]);
  },
};

// Admins administer through the API and the CLI; staff screens (矫务通) are not in this app yet.
export const OtherRole = {
  setup() {
    return () => {
      const admin = state.user.role === "admin";
      return screen(
        admin ? "管理员" : "工作人员",
        [
          h("p", `您好,${state.user.display_name}。`),
          admin
            ? h("p", { class: "plain" }, [
                "管理工作(用户、组织机构、审计日志、积分规则、关键词等)通过接口和命令行完成,本应用不提供管理页面。",
                "接口文档:",
                h("a", { href: "/docs" }, "/docs"),
                ";命令行:在服务器上运行 zhijiao --help。",
              ])
            : h("p", { class: "plain" }, [
                "矫务通(工作人员的审批、预警、档案等页面)尚未上线,请先通过接口办理:",
                h("a", { href: "/docs" }, "/docs"),
                "。",
              ]),
          button("退出登录", logout, { type: "danger" }),
        ],
        { back: false },
      );
    };
  },
};
