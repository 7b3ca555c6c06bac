using System.Text;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis;

/// <summary>
/// The thrown type and message of an MSVC C++ exception (0xE06D7363), decoded from dump memory: parameters [0] magic
/// 0x19930520..0x19930522, [1] thrown object, [2] ThrowInfo, [3] (x64) image base. ThrowInfo.pCatchableTypeArray →
/// CatchableTypeArray.arrayOfCatchableTypes[0] (the most derived type) → CatchableType.pType → TypeDescriptor.name.
/// On x64 those fields are image-relative offsets from the image base; on x86 they are pointers.
/// </summary>
public sealed record CppThrowInfo(string? TypeName, string? DecoratedName, string? Message, ulong ThrowInfo, ulong ImageBase, IReadOnlyList<string> CatchableTypes, string? Problem)
{
    private const int MaxCatchableTypes = 64;
    private const int MaxNameBytes = 1024;
    private const int MaxMessageBytes = 1024;

    public static bool IsValidMagic(ulong magic) => magic is >= 0x19930520 and <= 0x19930522;

    /// <summary>
    /// The decoded throw, or null when <paramref name="e"/> is not a C++ exception with a valid magic. When memory is
    /// missing, TypeName is null and <see cref="Problem"/> says which part could not be read.
    /// </summary>
    public static CppThrowInfo? Decode(Dump dump, DumpException e) => Decode(dump, e, null);

    /// <summary>
    /// As <see cref="Decode(Dump, DumpException)"/>; <paramref name="readImage"/> reads a module's read-only image bytes
    /// (an image file from the symbol path) where dump memory lacks them (ThrowInfo and CatchableTypes live in .rdata).
    /// </summary>
    public static CppThrowInfo? Decode(Dump dump, DumpException e, Func<ulong, byte[], int>? readImage)
    {
        if (e.Code != ExceptionCodes.CppException || e.Parameters.Length < 3 || !IsValidMagic(e.Parameters[0])) return null;
        bool x64 = dump.PointerSize == 8;
        ulong obj = e.Parameters[1], throwInfo = e.Parameters[2];
        ulong imageBase = x64 ? (e.Parameters.Length >= 4 ? e.Parameters[3] : 0) : 0;
        if (x64 && imageBase == 0)
            return new CppThrowInfo(null, null, null, throwInfo, 0, [], "type not decoded (no image base parameter)");
        var memory = new Reader(dump, readImage);
        int p = dump.PointerSize;

        // A field that holds an RVA (x64) or a pointer (x86).
        bool Ref(ulong at, out ulong target)
        {
            target = 0;
            if (x64)
            {
                if (!memory.TryReadUInt32(at, out uint rva)) return false;
                target = rva == 0 ? 0 : imageBase + rva;
                return true;
            }
            if (!memory.TryReadUInt32(at, out uint ptr)) return false;
            target = ptr;
            return true;
        }

        // ThrowInfo: attributes (4), pmfnUnwind, pForwardCompat, pCatchableTypeArray.
        if (!Ref(throwInfo + 12, out ulong array) || array == 0)
            return new CppThrowInfo(null, null, null, throwInfo, imageBase, [], "type not decoded (ThrowInfo memory unavailable)");
        if (!memory.TryReadUInt32(array, out uint count) || count == 0)
            return new CppThrowInfo(null, null, null, throwInfo, imageBase, [], "type not decoded (CatchableTypeArray memory unavailable)");
        var names = new List<string>();
        for (uint i = 0; i < Math.Min(count, (uint)MaxCatchableTypes); i++)
        {
            // CatchableType: properties (4), pType, thisDisplacement (PMD: 3 x int), sizeOrOffset, copyFunction.
            if (!Ref(array + 4 + 4 * i, out ulong catchable) || catchable == 0) break;
            if (!Ref(catchable + 4, out ulong typeDescriptor) || typeDescriptor == 0) break;
            // TypeDescriptor: pVFTable, spare, name[].
            string? decorated = ReadAnsi(memory, typeDescriptor + (ulong)(2 * p), MaxNameBytes);
            if (decorated is null) break;
            names.Add(decorated);
        }
        if (names.Count == 0)
            return new CppThrowInfo(null, null, null, throwInfo, imageBase, [], "type not decoded (CatchableType or TypeDescriptor memory unavailable)");

        string typeName = Undecorate(names[0]);
        // std::exception under MSVC: the vtable pointer, then __std_exception_data { const char* _What; bool _DoFree; }.
        string? message = null;
        if (names.Any(n => n == ".?AVexception@std@@") && memory.TryReadPointer(obj + (ulong)p, p, out ulong what) && what != 0)
            message = ReadAnsi(memory, what, MaxMessageBytes);
        return new CppThrowInfo(typeName, names[0], message, throwInfo, imageBase, names.Select(Undecorate).ToArray(), null);
    }

    /// <summary>A NUL-terminated single-byte string; null when its first byte is not captured.</summary>
    internal static string? ReadAnsi(Dump dump, ulong address, int max) => ReadAnsi(new Reader(dump, null), address, max);

    private static string? ReadAnsi(Reader reader, ulong address, int max)
    {
        var bytes = new byte[max];
        int read = reader.Read(address, bytes);
        if (read == 0) return null;
        int end = Array.IndexOf(bytes, (byte)0, 0, read);
        if (end < 0) end = read;
        return Encoding.Latin1.GetString(bytes, 0, end);
    }

    /// <summary>
    /// An RTTI type name as C++ writes it: ".?AVruntime_error@std@@" → "std::runtime_error" (classes .?AV, structs
    /// .?AU, enums .?AW4), and common built-in types (".H" → "int", ".PEAD" → "char *"). Others are returned as given.
    /// </summary>
    public static string Undecorate(string decorated)
    {
        if (Builtin.TryGetValue(decorated, out string? builtin)) return builtin;
        string? body = decorated.StartsWith(".?AV", StringComparison.Ordinal) || decorated.StartsWith(".?AU", StringComparison.Ordinal) ? decorated[4..]
            : decorated.StartsWith(".?AW4", StringComparison.Ordinal) ? decorated[5..] : null;
        if (body is null || !body.EndsWith("@@", StringComparison.Ordinal) || body.Contains('?') || body.Contains('$')) return decorated;
        var parts = body[..^2].Split('@', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 0 ? decorated : string.Join("::", parts.Reverse());
    }

    /// <summary>Dump memory first; for what it lacks, the image reader (read-only image data) when given.</summary>
    private sealed class Reader(Dump dump, Func<ulong, byte[], int>? image)
    {
        public int Read(ulong address, byte[] buffer)
        {
            int got = dump.Memory.Read(address, buffer);
            if (got > 0 || image is null) return got;
            return image(address, buffer);
        }

        public bool TryReadUInt32(ulong address, out uint value)
        {
            var b = new byte[4];
            bool ok = Read(address, b) == 4;
            value = ok ? BitConverter.ToUInt32(b) : 0;
            return ok;
        }

        public bool TryReadPointer(ulong address, int size, out ulong value)
        {
            var b = new byte[size];
            bool ok = Read(address, b) == size;
            value = !ok ? 0 : size == 8 ? BitConverter.ToUInt64(b) : BitConverter.ToUInt32(b);
            return ok;
        }
    }

    private static readonly Dictionary<string, string> Builtin = new(StringComparer.Ordinal)
    {
        [".H"] = "int", [".I"] = "unsigned int", [".J"] = "long", [".K"] = "unsigned long", [".F"] = "short", [".G"] = "unsigned short",
        [".D"] = "char", [".E"] = "unsigned char", [".C"] = "signed char", [".M"] = "float", [".N"] = "double", [".O"] = "long double",
        ["._J"] = "__int64", ["._K"] = "unsigned __int64", ["._N"] = "bool", ["._W"] = "wchar_t",
        [".PAD"] = "char *", [".PEAD"] = "char *", [".PBD"] = "const char *", [".PEBD"] = "const char *",
        [".PA_W"] = "wchar_t *", [".PEA_W"] = "wchar_t *", [".PB_W"] = "const wchar_t *", [".PEB_W"] = "const wchar_t *",
        [".PAX"] = "void *", [".PEAX"] = "void *",
    };
}
