using System.Globalization;
using System.Text;

namespace DumpShell.Symbols.Breakpad;

/// <summary>The MODULE record: <c>MODULE os arch id name</c>.</summary>
public sealed record BreakpadModule(string OperatingSystem, string Architecture, string DebugId, string Name);

/// <summary>An INFO record: <c>INFO kind value…</c> (e.g. <c>INFO CODE_ID 5A9832E5… test_app.exe</c>).</summary>
public sealed record BreakpadInfo(string Kind, string Value);

/// <summary>A line record: machine code <c>[Address, Address+Size)</c> comes from <c>Line</c> of file <c>FileNumber</c>.</summary>
public readonly record struct BreakpadLine(ulong Address, ulong Size, long Line, int FileNumber);

/// <summary>An address range of an INLINE record.</summary>
public readonly record struct BreakpadAddressRange(ulong Address, ulong Size);

/// <summary>An INLINE record: code of origin <c>OriginId</c> inlined at a call site, at nesting depth <c>NestLevel</c> (0 = into the FUNC itself).</summary>
public sealed record BreakpadInline(int NestLevel, long CallSiteLine, int CallSiteFileNumber, int OriginId, IReadOnlyList<BreakpadAddressRange> Ranges);

/// <summary>A FUNC record with its line and INLINE records.</summary>
public sealed record BreakpadFunction(
    ulong Address, ulong Size, ulong ParameterSize, string Name, bool IsMultiple,
    IReadOnlyList<BreakpadLine> Lines, IReadOnlyList<BreakpadInline> Inlines);

/// <summary>A PUBLIC record.</summary>
public sealed record BreakpadPublic(ulong Address, ulong ParameterSize, string Name, bool IsMultiple);

/// <summary>One <c>register: expression</c> pair of a STACK CFI record (the postfix expression is kept as text).</summary>
public sealed record BreakpadCfiRule(string Register, string Expression);

/// <summary>A STACK CFI record (no INIT): the rules that change at <c>Address</c>.</summary>
public sealed record BreakpadCfiRow(ulong Address, IReadOnlyList<BreakpadCfiRule> Rules);

/// <summary>A STACK CFI INIT record and the STACK CFI records that follow it.</summary>
public sealed record BreakpadCfi(ulong Address, ulong Size, IReadOnlyList<BreakpadCfiRule> InitialRules, IReadOnlyList<BreakpadCfiRow> Changes)
{
    /// <summary>
    /// The rules in force at <paramref name="rva"/>: the INIT rules with every change at or before it applied,
    /// by register name (".cfa", ".ra", "$rsp", …). Empty when <paramref name="rva"/> is outside the record.
    /// </summary>
    public IReadOnlyDictionary<string, string> RulesAt(ulong rva)
    {
        var rules = new Dictionary<string, string>(StringComparer.Ordinal);
        if (rva < Address || rva - Address >= Size)
            return rules;
        foreach (var rule in InitialRules)
            rules[rule.Register] = rule.Expression;
        foreach (var row in Changes)
        {
            if (row.Address > rva)
                break;
            foreach (var rule in row.Rules)
                rules[rule.Register] = rule.Expression;
        }
        return rules;
    }
}

/// <summary>
/// A STACK WIN record. All numbers are as written (hex). <see cref="ProgramString"/> is set when
/// <see cref="HasProgramString"/>; otherwise <see cref="AllocatesBasePointer"/> carries the last field.
/// Type 4 is FrameData (program string), 0 is FPO.
/// </summary>
public sealed record BreakpadStackWin(
    uint Type, ulong Rva, ulong CodeSize, ulong PrologueSize, ulong EpilogueSize, ulong ParameterSize,
    ulong SavedRegisterSize, ulong LocalSize, ulong MaxStackSize, bool HasProgramString, string? ProgramString,
    bool AllocatesBasePointer)
{
    public const uint FpoType = 0;
    public const uint FrameDataType = 4;
}

/// <summary>A line of the file that was skipped, and why.</summary>
public readonly record struct BreakpadProblem(long LineNumber, string Message);

/// <summary>The function (FUNC) or public symbol (PUBLIC) that covers an address.</summary>
/// <param name="Size">The FUNC size; for a PUBLIC the distance to the next address the file mentions, null for the last.</param>
public sealed record BreakpadSymbol(string Name, ulong Address, ulong? Size, ulong ParameterSize, bool IsPublic);

/// <summary>The source line that covers an address.</summary>
/// <param name="File">The FILE record's name; null when no FILE record has the number.</param>
public sealed record BreakpadSourceLine(string? File, long Line, int FileNumber, ulong Address, ulong Size);

/// <summary>An inline frame at an address: <see cref="Name"/> inlined, called from <see cref="CallSiteFile"/>:<see cref="CallSiteLine"/>.</summary>
public sealed record BreakpadInlineFrame(string? Name, int NestLevel, string? CallSiteFile, long CallSiteLine, int OriginId);

/// <summary>
/// A Breakpad text symbol file (.sym): MODULE, INFO, FILE, FUNC and line records, INLINE_ORIGIN / INLINE,
/// PUBLIC, STACK CFI INIT / STACK CFI and STACK WIN.
/// </summary>
/// <remarks>
/// <para>Parsing never throws on content: a line that does not parse is skipped and counted in
/// <see cref="ProblemCount"/> (the first <see cref="MaxProblemsKept"/> are kept in <see cref="Problems"/>
/// with their line numbers). Addresses are RVAs (relative to the module's load address).</para>
/// <para>Lookups: <see cref="FindFunction"/> (FUNC, else the nearest PUBLIC as the Breakpad processor does),
/// <see cref="FindLine"/>, <see cref="FindCfi"/> / <see cref="FindCfiRules"/>, <see cref="FindStackWin"/>,
/// <see cref="FindInlineFrames"/>. Where ranges overlap the innermost (latest start) wins. FUNC records of
/// size 0 cover nothing. The CFI and STACK WIN program strings are stored, not evaluated.</para>
/// </remarks>
public sealed class SymbolFile
{
    public const int MaxProblemsKept = 100;

    private readonly List<BreakpadInfo> _info = [];
    private readonly Dictionary<int, string> _files = [];
    private readonly Dictionary<int, string> _inlineOrigins = [];
    private readonly List<BreakpadFunction> _functions = [];
    private readonly List<BreakpadPublic> _publics = [];
    private readonly List<BreakpadCfi> _cfi = [];
    private readonly List<BreakpadStackWin> _stackWin = [];
    private readonly List<BreakpadProblem> _problems = [];

    private RangeIndex<BreakpadFunction> _functionIndex = null!;
    private RangeIndex<BreakpadCfi> _cfiIndex = null!;
    private RangeIndex<BreakpadStackWin> _frameDataIndex = null!;
    private RangeIndex<BreakpadStackWin> _fpoIndex = null!;
    private BreakpadPublic[] _publicsByAddress = [];
    private ulong[] _functionStarts = [];

    public BreakpadModule? Module { get; private set; }
    public IReadOnlyList<BreakpadInfo> Info => _info;
    /// <summary>INFO CODE_ID's id (the PE TimeDateStamp+SizeOfImage, or an ELF build id), if present.</summary>
    public string? CodeId { get; private set; }
    /// <summary>INFO CODE_ID's file name, if present.</summary>
    public string? CodeFile { get; private set; }
    public IReadOnlyDictionary<int, string> Files => _files;
    public IReadOnlyDictionary<int, string> InlineOrigins => _inlineOrigins;
    /// <summary>FUNC records in file order.</summary>
    public IReadOnlyList<BreakpadFunction> Functions => _functions;
    /// <summary>PUBLIC records in file order.</summary>
    public IReadOnlyList<BreakpadPublic> Publics => _publics;
    /// <summary>STACK CFI INIT records (with their changes) in file order.</summary>
    public IReadOnlyList<BreakpadCfi> Cfi => _cfi;
    /// <summary>STACK WIN records in file order.</summary>
    public IReadOnlyList<BreakpadStackWin> StackWin => _stackWin;
    /// <summary>The first <see cref="MaxProblemsKept"/> skipped lines.</summary>
    public IReadOnlyList<BreakpadProblem> Problems => _problems;
    /// <summary>Every skipped line.</summary>
    public int ProblemCount { get; private set; }
    public long LineCount { get; private set; }

    private SymbolFile() { }

    public static SymbolFile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        using var reader = new StringReader(text);
        return Parse(reader);
    }

    public static SymbolFile Load(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        return Parse(reader);
    }

    public static SymbolFile Parse(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: true);
        return Parse(reader);
    }

    public static SymbolFile Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var file = new SymbolFile();
        new Parser(file).Run(reader);
        file.BuildIndexes();
        return file;
    }

    private void AddProblem(long lineNumber, string message)
    {
        ProblemCount++;
        if (_problems.Count < MaxProblemsKept)
            _problems.Add(new BreakpadProblem(lineNumber, message));
    }

    // ---- lookups --------------------------------------------------------------------------------------

    /// <summary>The FUNC record that covers <paramref name="rva"/>, if any (no PUBLIC fallback).</summary>
    public BreakpadFunction? FindFunctionRecord(ulong rva) => _functionIndex.Find(rva);

    /// <summary>
    /// The function at <paramref name="rva"/>: the FUNC that covers it, else the nearest PUBLIC at or below it
    /// (unless a FUNC lies between that PUBLIC and <paramref name="rva"/>, as in the Breakpad processor).
    /// </summary>
    public BreakpadSymbol? FindFunction(ulong rva)
    {
        if (_functionIndex.Find(rva) is { } function)
            return new BreakpadSymbol(function.Name, function.Address, function.Size, function.ParameterSize, IsPublic: false);
        int p = LastAtOrBelow(_publicsByAddress, rva, static x => x.Address);
        if (p < 0)
            return null;
        var pub = _publicsByAddress[p];
        int f = LastAtOrBelow(_functionStarts, rva);
        if (f >= 0 && _functionStarts[f] >= pub.Address)
            return null;
        ulong? next = NextMentionedAddress(pub.Address);
        return new BreakpadSymbol(pub.Name, pub.Address, next - pub.Address, pub.ParameterSize, IsPublic: true);
    }

    /// <summary>The source line at <paramref name="rva"/> (from the covering FUNC's line records).</summary>
    public BreakpadSourceLine? FindLine(ulong rva)
    {
        if (_functionIndex.Find(rva) is not { } function || function.Lines.Count == 0)
            return null;
        var lines = function.Lines as BreakpadLine[] ?? function.Lines.ToArray();
        int i = LastAtOrBelow(lines, rva, static l => l.Address);
        // Line records of one function may overlap in broken files; look back a little for one that covers rva.
        for (int j = i; j >= 0 && j > i - 8; j--)
        {
            var line = lines[j];
            if (rva - line.Address < line.Size)
                return new BreakpadSourceLine(_files.GetValueOrDefault(line.FileNumber), line.Line, line.FileNumber, line.Address, line.Size);
        }
        return null;
    }

    /// <summary>The inline frames at <paramref name="rva"/>, outermost (nest level 0) first.</summary>
    public IReadOnlyList<BreakpadInlineFrame> FindInlineFrames(ulong rva)
    {
        if (_functionIndex.Find(rva) is not { } function || function.Inlines.Count == 0)
            return [];
        return function.Inlines
            .Where(i => i.Ranges.Any(r => rva >= r.Address && rva - r.Address < r.Size))
            .OrderBy(i => i.NestLevel)
            .Select(i => new BreakpadInlineFrame(_inlineOrigins.GetValueOrDefault(i.OriginId), i.NestLevel,
                _files.GetValueOrDefault(i.CallSiteFileNumber), i.CallSiteLine, i.OriginId))
            .ToArray();
    }

    /// <summary>The STACK CFI INIT record that covers <paramref name="rva"/>.</summary>
    public BreakpadCfi? FindCfi(ulong rva) => _cfiIndex.Find(rva);

    /// <summary>The CFI rules in force at <paramref name="rva"/>, or null when no STACK CFI covers it.</summary>
    public IReadOnlyDictionary<string, string>? FindCfiRules(ulong rva) => FindCfi(rva)?.RulesAt(rva);

    /// <summary>The STACK WIN record that covers <paramref name="rva"/>: FrameData (type 4) before FPO (type 0); other types are not used.</summary>
    public BreakpadStackWin? FindStackWin(ulong rva) => _frameDataIndex.Find(rva) ?? _fpoIndex.Find(rva);

    private ulong? NextMentionedAddress(ulong address)
    {
        ulong? next = null;
        int p = LastAtOrBelow(_publicsByAddress, address, static x => x.Address);
        for (int i = p + 1; i < _publicsByAddress.Length; i++)
        {
            if (_publicsByAddress[i].Address > address)
            {
                next = _publicsByAddress[i].Address;
                break;
            }
        }
        int f = LastAtOrBelow(_functionStarts, address) + 1;
        if (f < _functionStarts.Length && (next is null || _functionStarts[f] < next))
            next = _functionStarts[f];
        return next;
    }

    private static int LastAtOrBelow<T>(T[] sorted, ulong value, Func<T, ulong> key)
    {
        int lo = 0, hi = sorted.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (key(sorted[mid]) <= value)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return found;
    }

    private static int LastAtOrBelow(ulong[] sorted, ulong value) => LastAtOrBelow(sorted, value, static x => x);

    private void BuildIndexes()
    {
        _functionIndex = new RangeIndex<BreakpadFunction>(_functions, static f => f.Address, static f => f.Size);
        _cfiIndex = new RangeIndex<BreakpadCfi>(_cfi, static c => c.Address, static c => c.Size);
        _frameDataIndex = new RangeIndex<BreakpadStackWin>(_stackWin.Where(s => s.Type == BreakpadStackWin.FrameDataType), static s => s.Rva, static s => s.CodeSize);
        _fpoIndex = new RangeIndex<BreakpadStackWin>(_stackWin.Where(s => s.Type == BreakpadStackWin.FpoType), static s => s.Rva, static s => s.CodeSize);
        _publicsByAddress = _publics.OrderBy(p => p.Address).ToArray();
        _functionStarts = _functions.Where(f => f.Size > 0).Select(f => f.Address).Order().ToArray();
    }

    // ---- parsing --------------------------------------------------------------------------------------

    private sealed class Parser(SymbolFile file)
    {
        private long _lineNumber;
        // The FUNC being filled (its lines and inlines are collected here, frozen when the next FUNC starts).
        private FunctionBuilder? _function;
        private CfiBuilder? _cfi;

        private sealed class FunctionBuilder(ulong address, ulong size, ulong parameterSize, string name, bool multiple)
        {
            public readonly List<BreakpadLine> Lines = [];
            public readonly List<BreakpadInline> Inlines = [];
            public BreakpadFunction Build()
            {
                var lines = Lines.ToArray();
                Array.Sort(lines, static (a, b) => a.Address.CompareTo(b.Address));
                return new BreakpadFunction(address, size, parameterSize, name, multiple, lines, Inlines.ToArray());
            }
        }

        private sealed class CfiBuilder(ulong address, ulong size, BreakpadCfiRule[] rules)
        {
            public readonly ulong Address = address;
            public readonly ulong Size = size;
            public ulong LastAddress = address;
            public readonly List<BreakpadCfiRow> Rows = [];
            public BreakpadCfi Build() => new(Address, Size, rules, Rows.ToArray());
        }

        public void Run(TextReader reader)
        {
            while (reader.ReadLine() is { } raw)
            {
                _lineNumber++;
                ReadOnlySpan<char> line = raw.AsSpan().TrimEnd();
                if (line.IsEmpty)
                    continue;
                string? problem = ParseRecord(line);
                if (problem is not null)
                    file.AddProblem(_lineNumber, problem);
            }
            FlushFunction();
            FlushCfi();
            file.LineCount = _lineNumber;
        }

        private void FlushFunction()
        {
            if (_function is not null)
                file._functions.Add(_function.Build());
            _function = null;
        }

        private void FlushCfi()
        {
            if (_cfi is not null)
                file._cfi.Add(_cfi.Build());
            _cfi = null;
        }

        private string? ParseRecord(ReadOnlySpan<char> line)
        {
            var rest = line;
            var keyword = NextField(ref rest);
            switch (keyword)
            {
                case "MODULE": return ParseModule(rest);
                case "INFO": return ParseInfo(rest);
                case "FILE": return ParseFile(rest);
                case "FUNC": return ParseFunction(rest);
                case "PUBLIC": return ParsePublic(rest);
                case "INLINE_ORIGIN": return ParseInlineOrigin(rest);
                case "INLINE": return ParseInline(rest);
                case "STACK":
                    var kind = NextField(ref rest);
                    if (kind.SequenceEqual("CFI"))
                        return ParseCfi(rest);
                    if (kind.SequenceEqual("WIN"))
                        return ParseStackWin(rest);
                    return $"Unknown STACK record '{kind}'.";
            }
            if (IsHex(keyword))
                return ParseLineRecord(line);
            return $"Unknown record '{Clip(keyword)}'.";
        }

        private string? ParseModule(ReadOnlySpan<char> rest)
        {
            var os = NextField(ref rest);
            var arch = NextField(ref rest);
            var id = NextField(ref rest);
            var name = Rest(rest);
            if (os.IsEmpty || arch.IsEmpty || id.IsEmpty || name.IsEmpty)
                return "MODULE needs an OS, an architecture, an id and a name.";
            if (file.Module is not null)
                return "A second MODULE record; the first one is kept.";
            file.Module = new BreakpadModule(os.ToString(), arch.ToString(), id.ToString(), name.ToString());
            return null;
        }

        private string? ParseInfo(ReadOnlySpan<char> rest)
        {
            var kind = NextField(ref rest);
            if (kind.IsEmpty)
                return "INFO without a kind.";
            var value = Rest(rest);
            file._info.Add(new BreakpadInfo(kind.ToString(), value.ToString()));
            if (kind.SequenceEqual("CODE_ID") && file.CodeId is null)
            {
                var id = NextField(ref value);
                file.CodeId = id.ToString();
                var codeFile = Rest(value);
                file.CodeFile = codeFile.IsEmpty ? null : codeFile.ToString();
            }
            return null;
        }

        private string? ParseFile(ReadOnlySpan<char> rest)
        {
            if (!TryDecimal(NextField(ref rest), out int number) || number < 0)
                return "FILE needs a decimal number.";
            var name = Rest(rest);
            if (name.IsEmpty)
                return "FILE without a name.";
            file._files[number] = name.ToString();
            return null;
        }

        private string? ParseFunction(ReadOnlySpan<char> rest)
        {
            FlushFunction();
            bool multiple = TakeMultipleFlag(ref rest);
            if (!TryHex(NextField(ref rest), out ulong address) || !TryHex(NextField(ref rest), out ulong size)
                || !TryHex(NextField(ref rest), out ulong parameterSize))
                return "FUNC needs hex address, size and parameter size.";
            _function = new FunctionBuilder(address, size, parameterSize, Rest(rest).ToString(), multiple);
            return null;
        }

        private string? ParsePublic(ReadOnlySpan<char> rest)
        {
            bool multiple = TakeMultipleFlag(ref rest);
            if (!TryHex(NextField(ref rest), out ulong address) || !TryHex(NextField(ref rest), out ulong parameterSize))
                return "PUBLIC needs hex address and parameter size.";
            file._publics.Add(new BreakpadPublic(address, parameterSize, Rest(rest).ToString(), multiple));
            return null;
        }

        private string? ParseLineRecord(ReadOnlySpan<char> line)
        {
            var rest = line;
            if (!TryHex(NextField(ref rest), out ulong address) || !TryHex(NextField(ref rest), out ulong size)
                || !TryDecimal(NextField(ref rest), out long lineNumber) || !TryDecimal(NextField(ref rest), out int fileNumber)
                || !Rest(rest).IsEmpty)
                return "Not a line record (hex address, hex size, decimal line, decimal file number).";
            if (lineNumber < 0 || fileNumber < 0)
                return "Line record with a negative line or file number.";
            if (_function is null)
                return "Line record before any FUNC.";
            _function.Lines.Add(new BreakpadLine(address, size, lineNumber, fileNumber));
            return null;
        }

        private string? ParseInlineOrigin(ReadOnlySpan<char> rest)
        {
            if (!TryDecimal(NextField(ref rest), out int id) || id < 0)
                return "INLINE_ORIGIN needs a decimal id.";
            file._inlineOrigins[id] = Rest(rest).ToString();
            return null;
        }

        private string? ParseInline(ReadOnlySpan<char> rest)
        {
            if (_function is null)
                return "INLINE before any FUNC.";
            var fields = new List<string>();
            while (!rest.IsEmpty)
            {
                var f = NextField(ref rest);
                if (!f.IsEmpty)
                    fields.Add(f.ToString());
            }
            // INLINE nest call_line call_file origin (addr size)+ ; older writers left out call_file.
            int fixedCount = fields.Count % 2 == 0 ? 4 : 3;
            if (fields.Count < fixedCount + 2)
                return "INLINE needs nest level, call site, origin and at least one address range.";
            var numbers = new long[fixedCount];
            for (int i = 0; i < fixedCount; i++)
            {
                if (!TryDecimal(fields[i], out numbers[i]) || numbers[i] < 0 || numbers[i] > int.MaxValue && i != 1)
                    return "INLINE has a field that is not a decimal number.";
            }
            var ranges = new List<BreakpadAddressRange>();
            for (int i = fixedCount; i < fields.Count; i += 2)
            {
                if (!TryHex(fields[i], out ulong a) || !TryHex(fields[i + 1], out ulong s))
                    return "INLINE has an address range that is not hex.";
                ranges.Add(new BreakpadAddressRange(a, s));
            }
            int fileNumber = fixedCount == 4 ? (int)numbers[2] : -1;
            int origin = (int)numbers[fixedCount - 1];
            _function.Inlines.Add(new BreakpadInline((int)numbers[0], numbers[1], fileNumber, origin, ranges));
            return null;
        }

        private string? ParseCfi(ReadOnlySpan<char> rest)
        {
            var probe = rest;
            if (NextField(ref probe).SequenceEqual("INIT"))
            {
                FlushCfi();
                rest = probe;
                if (!TryHex(NextField(ref rest), out ulong address) || !TryHex(NextField(ref rest), out ulong size))
                    return "STACK CFI INIT needs hex address and size.";
                if (ParseRules(rest, out var rules) is { } error)
                    return error;
                _cfi = new CfiBuilder(address, size, rules);
                return null;
            }
            if (!TryHex(NextField(ref rest), out ulong at))
                return "STACK CFI needs a hex address.";
            if (_cfi is null)
                return "STACK CFI before any STACK CFI INIT.";
            if (at < _cfi.LastAddress || at - _cfi.Address >= _cfi.Size)
                return "STACK CFI address is out of order or outside its STACK CFI INIT range.";
            if (ParseRules(rest, out var changes) is { } problem)
                return problem;
            _cfi.LastAddress = at;
            _cfi.Rows.Add(new BreakpadCfiRow(at, changes));
            return null;
        }

        /// <summary><c>reg: expr… reg: expr…</c>: a token ending in ':' names a register, the tokens up to the next one are its expression.</summary>
        private static string? ParseRules(ReadOnlySpan<char> text, out BreakpadCfiRule[] rules)
        {
            var list = new List<BreakpadCfiRule>();
            rules = [];
            string? register = null;
            var expression = new StringBuilder();
            while (!text.IsEmpty)
            {
                var token = NextField(ref text);
                if (token.IsEmpty)
                    continue;
                if (token[^1] == ':')
                {
                    if (register is not null)
                    {
                        if (expression.Length == 0)
                            return $"CFI rule for '{register}' has no expression.";
                        list.Add(new BreakpadCfiRule(register, expression.ToString()));
                        expression.Clear();
                    }
                    if (token.Length == 1)
                        return "CFI rule with an empty register name.";
                    register = token[..^1].ToString();
                }
                else
                {
                    if (register is null)
                        return "CFI expression before any register name.";
                    if (expression.Length > 0)
                        expression.Append(' ');
                    expression.Append(token);
                }
            }
            if (register is null)
                return "STACK CFI record without rules.";
            if (expression.Length == 0)
                return $"CFI rule for '{register}' has no expression.";
            list.Add(new BreakpadCfiRule(register, expression.ToString()));
            rules = list.ToArray();
            return null;
        }

        private string? ParseStackWin(ReadOnlySpan<char> rest)
        {
            Span<ulong> v = stackalloc ulong[10];
            for (int i = 0; i < v.Length; i++)
            {
                if (!TryHex(NextField(ref rest), out v[i]))
                    return "STACK WIN needs ten hex fields before its last one.";
            }
            if (v[0] > uint.MaxValue)
                return "STACK WIN type is out of range.";
            var last = Rest(rest);
            if (last.IsEmpty)
                return "STACK WIN without its last field.";
            bool hasProgram = v[9] != 0;
            string? program = null;
            bool allocatesBasePointer = false;
            if (hasProgram)
            {
                program = last.ToString();
            }
            else
            {
                if (!TryHex(last, out ulong flag))
                    return "STACK WIN allocates_base_pointer is not hex.";
                allocatesBasePointer = flag != 0;
            }
            file._stackWin.Add(new BreakpadStackWin((uint)v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], hasProgram, program, allocatesBasePointer));
            return null;
        }

        private static bool TakeMultipleFlag(ref ReadOnlySpan<char> rest)
        {
            var probe = rest;
            if (NextField(ref probe).SequenceEqual("m"))
            {
                rest = probe;
                return true;
            }
            return false;
        }

        /// <summary>The next space- or tab-separated field (empty at the end).</summary>
        private static ReadOnlySpan<char> NextField(ref ReadOnlySpan<char> s)
        {
            int start = 0;
            while (start < s.Length && s[start] is ' ' or '\t')
                start++;
            int end = start;
            while (end < s.Length && s[end] is not (' ' or '\t'))
                end++;
            var field = s[start..end];
            s = s[end..];
            return field;
        }

        /// <summary>The rest of the line after the separator (names may hold spaces).</summary>
        private static ReadOnlySpan<char> Rest(ReadOnlySpan<char> s)
        {
            int start = 0;
            while (start < s.Length && s[start] is ' ' or '\t')
                start++;
            return s[start..];
        }

        private static bool IsHex(ReadOnlySpan<char> s)
        {
            if (s.IsEmpty)
                return false;
            foreach (char c in s)
            {
                if (!char.IsAsciiHexDigit(c))
                    return false;
            }
            return true;
        }

        private static bool TryHex(ReadOnlySpan<char> s, out ulong value)
        {
            value = 0;
            return IsHex(s) && ulong.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }

        private static bool TryDecimal(ReadOnlySpan<char> s, out long value) =>
            long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

        private static bool TryDecimal(ReadOnlySpan<char> s, out int value) =>
            int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

        private static string Clip(ReadOnlySpan<char> s) => s.Length <= 40 ? s.ToString() : s[..40].ToString() + "…";
    }

    /// <summary>
    /// Ranges sorted by start with a running maximum of their ends, so that the innermost range covering an
    /// address is found with a binary search and a backward scan that stops as soon as no earlier range can reach it.
    /// </summary>
    private sealed class RangeIndex<T> where T : class
    {
        private readonly T[] _items;
        private readonly ulong[] _starts;
        private readonly ulong[] _ends;       // exclusive, saturated at ulong.MaxValue
        private readonly ulong[] _maxEnd;     // max of _ends[0..i]

        public RangeIndex(IEnumerable<T> items, Func<T, ulong> start, Func<T, ulong> size)
        {
            var kept = items.Where(i => size(i) > 0)
                .Select((item, order) => (item, order))
                .OrderBy(x => start(x.item)).ThenByDescending(x => size(x.item)).ThenBy(x => x.order)
                .Select(x => x.item)
                .ToArray();
            _items = kept;
            _starts = new ulong[kept.Length];
            _ends = new ulong[kept.Length];
            _maxEnd = new ulong[kept.Length];
            ulong running = 0;
            for (int i = 0; i < kept.Length; i++)
            {
                ulong s = start(kept[i]);
                ulong n = size(kept[i]);
                _starts[i] = s;
                _ends[i] = n > ulong.MaxValue - s ? ulong.MaxValue : s + n;
                running = Math.Max(running, _ends[i]);
                _maxEnd[i] = running;
            }
        }

        public T? Find(ulong address)
        {
            int i = LastAtOrBelow(_starts, address);
            for (int j = i; j >= 0; j--)
            {
                if (_maxEnd[j] <= address)
                    return null;
                if (address < _ends[j])
                    return _items[j];
            }
            return null;
        }
    }
}
