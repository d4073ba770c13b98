SELECT
  `t21`.`conversation_id`,
  `t21`.`created_at`,
  `t21`.`first_response_at`,
  `t21`.`frt_business_s`,
  CAST('1970-01-01T00:00:00+00:00' AS TIMESTAMP) + CAST(CONCAT(
    `t10`.`__due_at_open_s` + (
      `t21`.`__due_at_due` - `t10`.`__due_at_cum_s`
    ),
    ' seconds'
  ) AS INTERVAL) AS `due_at`
FROM (
  SELECT
    `t19`.`conversation_id`,
    `t19`.`created_at`,
    `t19`.`first_response_at`,
    `t19`.`frt_business_s`,
    `t19`.`__due_at_c`,
    `t19`.`__due_at_c` + 14400 AS `__due_at_due`
  FROM (
    SELECT
      `t18`.`conversation_id`,
      `t18`.`created_at`,
      `t18`.`first_response_at`,
      `t18`.`frt_business_s`,
      `t6`.`____due_at_c_cum_s` + LEAST(
        GREATEST(`t18`.`____due_at_c_t` - `t6`.`____due_at_c_open_s`, 0),
        `t6`.`____due_at_c_close_s` - `t6`.`____due_at_c_open_s`
      ) AS `__due_at_c`
    FROM (
      SELECT
        `t16`.`conversation_id`,
        `t16`.`created_at`,
        `t16`.`first_response_at`,
        `t16`.`__frt_business_s_b` - `t16`.`__frt_business_s_a` AS `frt_business_s`,
        CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t16`.`created_at` AS TIMESTAMP))) AS BIGINT) AS `____due_at_c_t`,
        CAST(FLOOR(
          CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t16`.`created_at` AS TIMESTAMP))) AS BIGINT) / 86400
        ) AS BIGINT) AS `____due_at_c_tk`
      FROM (
        SELECT
          `t15`.`conversation_id`,
          `t15`.`created_at`,
          `t15`.`first_response_at`,
          `t15`.`__frt_business_s_a`,
          `t7`.`____frt_business_s_b_cum_s` + LEAST(
            GREATEST(`t15`.`____frt_business_s_b_t` - `t7`.`____frt_business_s_b_open_s`, 0),
            `t7`.`____frt_business_s_b_close_s` - `t7`.`____frt_business_s_b_open_s`
          ) AS `__frt_business_s_b`
        FROM (
          SELECT
            `t13`.`conversation_id`,
            `t13`.`created_at`,
            `t13`.`first_response_at`,
            `t13`.`__frt_business_s_a`,
            CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t13`.`first_response_at` AS TIMESTAMP))) AS BIGINT) AS `____frt_business_s_b_t`,
            CAST(FLOOR(
              CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t13`.`first_response_at` AS TIMESTAMP))) AS BIGINT) / 86400
            ) AS BIGINT) AS `____frt_business_s_b_tk`
          FROM (
            SELECT
              `t12`.`conversation_id`,
              `t12`.`created_at`,
              `t12`.`first_response_at`,
              `t8`.`____frt_business_s_a_cum_s` + LEAST(
                GREATEST(`t12`.`____frt_business_s_a_t` - `t8`.`____frt_business_s_a_open_s`, 0),
                `t8`.`____frt_business_s_a_close_s` - `t8`.`____frt_business_s_a_open_s`
              ) AS `__frt_business_s_a`
            FROM (
              SELECT
                `t1`.`conversation_id`,
                `t1`.`created_at`,
                `t1`.`first_response_at`,
                CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t1`.`created_at` AS TIMESTAMP))) AS BIGINT) AS `____frt_business_s_a_t`,
                CAST(FLOOR(
                  CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t1`.`created_at` AS TIMESTAMP))) AS BIGINT) / 86400
                ) AS BIGINT) AS `____frt_business_s_a_tk`
              FROM `conversations` AS `t1`
            ) AS `t12`
            LEFT OUTER JOIN (
              SELECT
                `t0`.`lo_s` AS `____frt_business_s_a_lo_s`,
                `t0`.`hi_s` AS `____frt_business_s_a_hi_s`,
                `t0`.`open_s` AS `____frt_business_s_a_open_s`,
                `t0`.`close_s` AS `____frt_business_s_a_close_s`,
                `t0`.`cum_s` AS `____frt_business_s_a_cum_s`,
                `t0`.`k` AS `____frt_business_s_a_k`
              FROM `frt_business_steps` AS `t0`
            ) AS `t8`
              ON `t8`.`____frt_business_s_a_k` = `t12`.`____frt_business_s_a_tk`
              AND `t8`.`____frt_business_s_a_lo_s` <= `t12`.`____frt_business_s_a_t`
              AND `t12`.`____frt_business_s_a_t` < `t8`.`____frt_business_s_a_hi_s`
          ) AS `t13`
        ) AS `t15`
        LEFT OUTER JOIN (
          SELECT
            `t0`.`lo_s` AS `____frt_business_s_b_lo_s`,
            `t0`.`hi_s` AS `____frt_business_s_b_hi_s`,
            `t0`.`open_s` AS `____frt_business_s_b_open_s`,
            `t0`.`close_s` AS `____frt_business_s_b_close_s`,
            `t0`.`cum_s` AS `____frt_business_s_b_cum_s`,
            `t0`.`k` AS `____frt_business_s_b_k`
          FROM `frt_business_steps` AS `t0`
        ) AS `t7`
          ON `t7`.`____frt_business_s_b_k` = `t15`.`____frt_business_s_b_tk`
          AND `t7`.`____frt_business_s_b_lo_s` <= `t15`.`____frt_business_s_b_t`
          AND `t15`.`____frt_business_s_b_t` < `t7`.`____frt_business_s_b_hi_s`
      ) AS `t16`
    ) AS `t18`
    LEFT OUTER JOIN (
      SELECT
        `t0`.`lo_s` AS `____due_at_c_lo_s`,
        `t0`.`hi_s` AS `____due_at_c_hi_s`,
        `t0`.`open_s` AS `____due_at_c_open_s`,
        `t0`.`close_s` AS `____due_at_c_close_s`,
        `t0`.`cum_s` AS `____due_at_c_cum_s`,
        `t0`.`k` AS `____due_at_c_k`
      FROM `frt_business_steps` AS `t0`
    ) AS `t6`
      ON `t6`.`____due_at_c_k` = `t18`.`____due_at_c_tk`
      AND `t6`.`____due_at_c_lo_s` <= `t18`.`____due_at_c_t`
      AND `t18`.`____due_at_c_t` < `t6`.`____due_at_c_hi_s`
  ) AS `t19`
) AS `t21`
LEFT OUTER JOIN (
  SELECT
    `t5`.`open_s` AS `__due_at_open_s`,
    `t5`.`close_s` AS `__due_at_close_s`,
    `t5`.`cum_s` AS `__due_at_cum_s`
  FROM (
    SELECT DISTINCT
      `t0`.`open_s`,
      `t0`.`close_s`,
      `t0`.`cum_s`
    FROM `frt_business_steps` AS `t0`
    WHERE
      `t0`.`close_s` > `t0`.`open_s`
  ) AS `t5`
) AS `t10`
  ON `t10`.`__due_at_cum_s` < `t21`.`__due_at_due`
  AND `t21`.`__due_at_due` <= (
    `t10`.`__due_at_cum_s` + (
      `t10`.`__due_at_close_s` - `t10`.`__due_at_open_s`
    )
  )
