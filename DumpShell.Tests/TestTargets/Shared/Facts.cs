using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace TestTargets;

/// <summary>
/// What a test target knows about itself, written as a small JSON file (the path given as the first
/// argument) before it crashes: the tests assert a dump against the program's own facts, not guesses.
/// </summary>
/// <remarks>Lives outside the <c>App</c> namespace so it never shows among the types the tests count.</remarks>
internal sealed class Facts
{
    private readonly string _path;
    private readonly string _target;
    private readonly List<(string Name, int ManagedId, int? OsId)> _threads = new();
    private readonly Dictionary<string, object> _values = new();

    public Facts(string target, string[] args)
    {
        if (args.Length < 1) throw new ArgumentException($"usage: {target} <facts.json>");
        _path = args[0];
        _target = target;
        AddThread("main");
    }

    /// <summary>Records the calling thread under <paramref name="name"/>.</summary>
    public void AddThread(string name)
    {
        lock (_threads) _threads.Add((name, Environment.CurrentManagedThreadId, OsThreadId()));
    }

    public void Set(string key, object value)
    {
        lock (_threads) _values[key] = value;
    }

    /// <summary>Writes the facts to a temporary name, then renames it: a reader never sees half a file.</summary>
    public void Write()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("target", _target);
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteString("runtimeVersion", Environment.Version.ToString());
            json.WriteString("runtimeDirectory", RuntimeEnvironment.GetRuntimeDirectory());
            json.WriteString("architecture", RuntimeInformation.ProcessArchitecture.ToString());
            json.WriteStartArray("threads");
            lock (_threads)
            {
                foreach (var (name, managedId, osId) in _threads)
                {
                    json.WriteStartObject();
                    json.WriteString("name", name);
                    json.WriteNumber("managedId", managedId);
                    if (osId is { } tid) json.WriteNumber("osId", tid);
                    else json.WriteNull("osId");
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                foreach (var (key, value) in _values)
                {
                    json.WritePropertyName(key);
                    JsonSerializer.Serialize(json, value, value.GetType());
                }
            }
            json.WriteEndObject();
        }
        string temp = _path + ".tmp";
        File.WriteAllBytes(temp, buffer.ToArray());
        File.Move(temp, _path, overwrite: true);
    }

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();

    [DllImport("libc", EntryPoint = "syscall")]
    private static extern long Syscall(long number);

    /// <summary>The kernel's id of the calling thread (what a core file's NT_PRSTATUS calls pr_pid); null off Linux.</summary>
    public static int? OsThreadId()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return GetTid(); // glibc 2.30+
        }
        catch (EntryPointNotFoundException)
        {
            long number = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => 186,   // __NR_gettid on x86_64
                Architecture.Arm64 => 178, // __NR_gettid on aarch64
                _ => -1,
            };
            return number < 0 ? null : (int)Syscall(number);
        }
    }
}
