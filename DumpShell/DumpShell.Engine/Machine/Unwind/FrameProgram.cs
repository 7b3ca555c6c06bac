using System.Globalization;

namespace DumpShell.Machine.Unwind;

/// <summary>The outcome of running a <see cref="FrameProgram"/>: the variables after it ran, or why it failed.</summary>
/// <param name="Variables">Every variable after the run (the initial ones and those the program assigned); empty on failure.</param>
/// <param name="Assigned">The variables the program assigned (e.g. "$eip", "$esp", "$ebx"); empty on failure.</param>
/// <param name="Error">Why the program could not be run to its end; null on success.</param>
public sealed record FrameProgramResult(
    IReadOnlyDictionary<string, uint> Variables, IReadOnlySet<string> Assigned, string? Error)
{
    public bool Success => Error is null;

    /// <summary>The value the program gave <paramref name="name"/>, or null when it did not assign it.</summary>
    public uint? AssignedValue(string name) => Assigned.Contains(name) && Variables.TryGetValue(name, out uint v) ? v : null;

    internal static FrameProgramResult Fail(string error) =>
        new(new Dictionary<string, uint>(), new HashSet<string>(), error);
}

/// <summary>
/// Runs the postfix programs of x86 frame data: the FrameFunc strings of PDB FRAMEDATA records and the program
/// strings of Breakpad STACK WIN records, e.g. <c>$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =</c>.
/// </summary>
/// <remarks>
/// <para>Tokens are separated by white space. A number (decimal, or hex with 0x) or a variable name is pushed;
/// <c>+ - * / %</c> pop two operands and push the result of <c>a op b</c> (32-bit, wrapping, unsigned; <c>/</c> and
/// <c>%</c> by 0 fail); <c>@</c> aligns: <c>a b @</c> is <c>a</c> rounded down to a multiple of <c>b</c>, which must be
/// a power of two; <c>^</c> pops an address and pushes the 32-bit value of process memory there (a read the dump
/// cannot serve fails); <c>=</c> pops a value and a name and assigns the value to the name. Variables are
/// <c>$name</c> (registers <c>$eip $esp $ebp $ebx $esi $edi</c>, temporaries <c>$T0</c>.., others such as
/// <c>$L $P $20</c>) and <c>.name</c> (inputs: <c>.raSearch .raSearchStart .cbLocals .cbParams .cbSavedRegs
/// .cbCalleeParams</c>, ...); only <c>$</c> names may be assigned. Reading a variable that has no value fails. The
/// program must leave the stack empty, as Breakpad's PostfixEvaluator requires.</para>
/// <para>Everything is bounded (<see cref="MaxProgramLength"/>, <see cref="MaxTokens"/>, <see cref="MaxStackDepth"/>,
/// <see cref="MaxVariables"/>, <see cref="MaxMemoryReads"/>): the language has no loops, and a hostile string is
/// refused with a reason. <see cref="Evaluate"/> never throws for program text or memory contents.</para>
/// </remarks>
public static class FrameProgram
{
    public const int MaxProgramLength = 4096;
    public const int MaxTokens = 512;
    public const int MaxStackDepth = 64;
    public const int MaxVariables = 64;
    public const int MaxMemoryReads = 128;
    public const int MaxNameLength = 64;

    private readonly record struct Item(string? Name, uint Value);

    /// <summary>Runs <paramref name="program"/> with the variables of <paramref name="initial"/>.</summary>
    /// <param name="read">Reads 32 bits of process memory; null when the dump does not hold them.</param>
    public static FrameProgramResult Evaluate(string? program, IReadOnlyDictionary<string, uint> initial, Func<ulong, uint?> read)
    {
        if (program is null) return FrameProgramResult.Fail("There is no program.");
        if (program.Length > MaxProgramLength) return FrameProgramResult.Fail($"The program is longer than {MaxProgramLength} characters.");
        var variables = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var (name, value) in initial ?? new Dictionary<string, uint>())
        {
            if (variables.Count >= MaxVariables) return FrameProgramResult.Fail($"More than {MaxVariables} variables.");
            variables[name] = value;
        }
        var assigned = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<Item>();
        int tokens = 0, reads = 0;
        foreach (var token in program.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (++tokens > MaxTokens) return FrameProgramResult.Fail($"The program has more than {MaxTokens} tokens.");
            string? error;
            switch (token)
            {
                case "+" or "-" or "*" or "/" or "%" or "@":
                {
                    if (!PopValue(stack, variables, out uint b, out error) || !PopValue(stack, variables, out uint a, out error))
                        return FrameProgramResult.Fail($"'{token}' (token {tokens}): {error}");
                    uint result;
                    switch (token[0])
                    {
                        case '+': result = unchecked(a + b); break;
                        case '-': result = unchecked(a - b); break;
                        case '*': result = unchecked(a * b); break;
                        case '/':
                            if (b == 0) return FrameProgramResult.Fail($"Division by zero (token {tokens}).");
                            result = a / b;
                            break;
                        case '%':
                            if (b == 0) return FrameProgramResult.Fail($"Remainder by zero (token {tokens}).");
                            result = a % b;
                            break;
                        default:
                            if (b == 0 || (b & (b - 1)) != 0)
                                return FrameProgramResult.Fail($"Alignment to {b}, which is not a power of two (token {tokens}).");
                            result = a & ~(b - 1);
                            break;
                    }
                    stack.Push(new Item(null, result));
                    break;
                }
                case "^":
                {
                    if (!PopValue(stack, variables, out uint address, out error))
                        return FrameProgramResult.Fail($"'^' (token {tokens}): {error}");
                    if (++reads > MaxMemoryReads) return FrameProgramResult.Fail($"More than {MaxMemoryReads} memory reads.");
                    uint? value;
                    try { value = read(address); }
                    catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or ObjectDisposedException)
                    {
                        return FrameProgramResult.Fail($"Reading 0x{address:x} failed: {e.Message}");
                    }
                    if (value is not { } v) return FrameProgramResult.Fail($"The memory at 0x{address:x} is not in the dump.");
                    stack.Push(new Item(null, v));
                    break;
                }
                case "=":
                {
                    if (!PopValue(stack, variables, out uint value, out error))
                        return FrameProgramResult.Fail($"'=' (token {tokens}): {error}");
                    if (stack.Count == 0) return FrameProgramResult.Fail($"'=' (token {tokens}) has nothing to assign to.");
                    var target = stack.Pop();
                    if (target.Name is not { } name) return FrameProgramResult.Fail($"'=' (token {tokens}) assigns to a value, not a variable.");
                    if (name[0] != '$') return FrameProgramResult.Fail($"'=' (token {tokens}) assigns to '{name}'; only $ variables may be assigned.");
                    if (!variables.ContainsKey(name) && variables.Count >= MaxVariables) return FrameProgramResult.Fail($"More than {MaxVariables} variables.");
                    variables[name] = value;
                    assigned.Add(name);
                    break;
                }
                default:
                {
                    Item item;
                    if (IsName(token)) item = new Item(token, 0);
                    else if (TryNumber(token, out uint number)) item = new Item(null, number);
                    else return FrameProgramResult.Fail($"Unknown token '{Clip(token)}' (token {tokens}).");
                    if (stack.Count >= MaxStackDepth) return FrameProgramResult.Fail($"The stack would grow past {MaxStackDepth} entries.");
                    stack.Push(item);
                    break;
                }
            }
        }
        if (stack.Count != 0) return FrameProgramResult.Fail($"The program leaves {stack.Count} value(s) on the stack: it is incomplete.");
        return new FrameProgramResult(variables, assigned, null);
    }

    private static bool PopValue(Stack<Item> stack, Dictionary<string, uint> variables, out uint value, out string? error)
    {
        value = 0;
        if (stack.Count == 0)
        {
            error = "the stack is empty";
            return false;
        }
        var item = stack.Pop();
        if (item.Name is null)
        {
            value = item.Value;
            error = null;
            return true;
        }
        if (variables.TryGetValue(item.Name, out value))
        {
            error = null;
            return true;
        }
        error = $"'{item.Name}' has no value";
        return false;
    }

    /// <summary>$name or .name: letters, digits and underscores after the sigil.</summary>
    private static bool IsName(string token)
    {
        if (token.Length < 2 || token.Length > MaxNameLength || token[0] is not ('$' or '.')) return false;
        for (int i = 1; i < token.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(token[i]) || token[i] == '_')) return false;
        return true;
    }

    private static bool TryNumber(string token, out uint value)
    {
        value = 0;
        bool negative = token.Length > 1 && token[0] == '-';
        var digits = negative ? token.AsSpan(1) : token.AsSpan();
        bool ok;
        ulong magnitude = 0;
        if (digits.Length > 2 && digits[0] == '0' && digits[1] is 'x' or 'X')
            ok = ulong.TryParse(digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out magnitude);
        else
        {
            ok = digits.Length > 0 && char.IsAsciiDigit(digits[0]) &&
                 ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude);
        }
        if (!ok || magnitude > uint.MaxValue) return false;
        value = negative ? unchecked((uint)-(long)magnitude) : (uint)magnitude;
        return true;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
